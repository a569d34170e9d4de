import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { fileJournal } from '../../src/journal/file.ts';
import { ENTRY_STATE, type JournalEntry } from '../../src/journal/journal.ts';
import { serializeRequest } from '../../src/journal/serialize.ts';
import { makeEntry } from '../journal/contract.ts';

let directory: string;
let count = 0;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'oncely-cli-journal-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function oncely(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const HOUR = 3_600_000;

/** A journal file holding one operation in each state. */
async function journalFile() {
  const path = join(directory, `ops-${++count}.journal`);
  const now = Date.now();
  const entries = {
    pending: makeEntry({
      id: 'op-pending',
      key: 'order-1',
      createdAt: now - 3 * HOUR,
      nextAttemptAt: now + 5 * 60_000 + 30_000,
      attempts: 4,
      lastError: { code: 'HTTP_ERROR', message: 'Service Unavailable', status: 503 },
      request: serializeRequest({
        url: 'https://api.example/orders',
        method: 'POST',
        headers: { authorization: 'Bearer s3cr3t', 'content-type': 'application/octet-stream' },
        body: new Uint8Array([1, 2, 3]),
      }),
    }),
    failed: makeEntry({ id: 'op-failed', state: ENTRY_STATE.failed, createdAt: now - 2 * HOUR }),
    expired: makeEntry({
      id: 'op-expired',
      key: 'order-3',
      state: ENTRY_STATE.expired,
      createdAt: now - 30 * HOUR,
      expiresAt: now - 7 * HOUR,
    }),
    succeeded: makeEntry({ id: 'op-done', state: ENTRY_STATE.succeeded, createdAt: now - HOUR }),
  };
  const journal = fileJournal(path);
  for (const entry of Object.values(entries)) await journal.put(entry);
  await journal.close();
  return { path, entries };
}

async function read(path: string): Promise<JournalEntry[]> {
  const journal = fileJournal(path, { readOnly: true });
  const entries = await journal.list();
  await journal.close();
  return entries;
}

describe('oncely journal list', () => {
  it('prints a table of every operation, oldest first, with a summary', async () => {
    const { path } = await journalFile();
    const { code, out, err } = await oncely('journal', 'list', path);
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+KEY\s+STATE\s+ATTEMPTS\s+AGE\s+NEXT ATTEMPT$/);
    expect(lines[1]).toMatch(/^op-expired\s+charge\s+order-3\s+expired\s+0\s+1d6h\s+-$/);
    expect(lines[2]).toMatch(/^op-pending\s+charge\s+order-1\s+pending\s+4\s+3h00m\s+in 5m$/);
    expect(lines[3]).toMatch(/^op-failed\s.*failed\s+0\s+2h00m\s+-$/);
    expect(lines[4]).toMatch(/^op-done\s.*succeeded/);
    expect(out).toContain('4 operations: 1 expired, 1 pending, 1 failed, 1 succeeded');
  });

  it('prints JSON with --json, binary bodies as base64, and no secret', async () => {
    const { path } = await journalFile();
    const { code, out } = await oncely('journal', 'list', path, '--json');
    expect(code).toBe(0);
    const parsed = JSON.parse(out) as Array<{ id: string; request: { body: unknown } }>;
    expect(parsed.map((entry) => entry.id)).toEqual([
      'op-expired',
      'op-pending',
      'op-failed',
      'op-done',
    ]);
    expect(parsed[1]?.request.body).toEqual({ type: 'bytes', size: 3, base64: 'AQID' });
    expect(out).not.toContain('s3cr3t');
  });

  it('says so for an empty journal, and fails for a missing file', async () => {
    const path = join(directory, 'empty.journal');
    const journal = fileJournal(path);
    await journal.open();
    await journal.close();
    expect(await oncely('journal', 'list', path)).toMatchObject({
      code: 0,
      out: `${path}: no operations`,
    });
    const absent = join(directory, 'missing.journal');
    for (const args of [
      ['list', absent],
      ['retry', absent, 'a'],
      ['drop', absent, '--all-settled'],
    ]) {
      const missing = await oncely('journal', ...args);
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/ENOENT/);
    }
    // Nothing was created on the way.
    await expect(stat(absent)).rejects.toThrow();
    await expect(stat(`${absent}.lock`)).rejects.toThrow();
  });

  it('works while the application holds the journal, and warns about corrupt lines', async () => {
    const { path } = await journalFile();
    const app = fileJournal(path);
    await app.open();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(path, 'deadbeef {"torn":');
    const { code, err, out } = await oncely('journal', 'list', path);
    expect(code).toBe(0);
    expect(out).toContain('4 operations');
    expect(err).toMatch(/^warning: .*skipped 1 torn or corrupt line/);
    // Where the bytes go once the application's next compaction or open drops them.
    expect(err).toContain(`${path}.corrupt`);
    await app.close();
  });
});

describe('oncely journal show', () => {
  it('prints one operation as JSON', async () => {
    const { path } = await journalFile();
    const { code, out } = await oncely('journal', 'show', path, 'op-pending');
    expect(code).toBe(0);
    const entry = JSON.parse(out);
    expect(entry).toMatchObject({
      id: 'op-pending',
      key: 'order-1',
      attempts: 4,
      lastError: { status: 503 },
      request: {
        url: 'https://api.example/orders',
        headers: [['content-type', 'application/octet-stream']],
      },
    });
  });

  it('exits 1 for an unknown id', async () => {
    const { path } = await journalFile();
    const { code, err } = await oncely('journal', 'show', path, 'nope');
    expect(code).toBe(1);
    expect(err).toBe(`oncely journal: no operation 'nope' in ${path}`);
  });
});

describe('oncely journal retry', () => {
  it('makes a pending operation due now', async () => {
    const { path } = await journalFile();
    const { code, out } = await oncely('journal', 'retry', path, 'op-pending');
    expect(code).toBe(0);
    expect(out).toContain('op-pending is pending and due now');
    const entry = (await read(path)).find((e) => e.id === 'op-pending');
    expect(entry?.nextAttemptAt).toBeUndefined();
    expect(entry?.attempts).toBe(4);
  });

  it('puts a failed or expired operation back to pending, with a fresh lifetime and a warning', async () => {
    const { path, entries } = await journalFile();
    expect((await oncely('journal', 'retry', path, 'op-failed')).code).toBe(0);
    const expired = await oncely('journal', 'retry', path, 'op-expired', '--json');
    expect(expired.code).toBe(0);
    expect(expired.err).toMatch(/op-expired had expired; if the server has forgotten key order-3/);
    expect(JSON.parse(expired.out)).toMatchObject({
      retried: 'op-expired',
      entry: { state: 'pending' },
    });
    const after = await read(path);
    expect(after.find((e) => e.id === 'op-failed')?.state).toBe('pending');
    const reset = after.find((e) => e.id === 'op-expired');
    expect(reset?.state).toBe('pending');
    const lifetime = (entries.expired.expiresAt as number) - entries.expired.createdAt;
    expect((reset?.expiresAt as number) - Date.now()).toBeGreaterThan(lifetime - 60_000);
  });

  it('refuses a succeeded operation and an unknown id', async () => {
    const { path } = await journalFile();
    const done = await oncely('journal', 'retry', path, 'op-done');
    expect(done.code).toBe(1);
    expect(done.err).toContain('already succeeded');
    expect((await oncely('journal', 'retry', path, 'nope')).code).toBe(1);
  });

  it('refuses, naming the holder, while the application holds the journal', async () => {
    const { path } = await journalFile();
    const app = fileJournal(path);
    await app.open();
    const { code, err } = await oncely('journal', 'retry', path, 'op-pending');
    expect(code).toBe(1);
    expect(err).toBe(
      `oncely journal: the journal is in use by process ${process.pid} on ${(await import('node:os')).hostname()}; stop it (or let it finish) and try again`,
    );
    await app.close();
  });
});

describe('oncely journal drop', () => {
  it('removes one operation', async () => {
    const { path } = await journalFile();
    const { code, out } = await oncely('journal', 'drop', path, 'op-pending');
    expect(code).toBe(0);
    expect(out).toBe('dropped op-pending (was pending; it will not be resumed)');
    expect((await read(path)).map((e) => e.id)).toEqual(['op-expired', 'op-failed', 'op-done']);
    expect((await oncely('journal', 'drop', path, 'op-pending')).code).toBe(1);
  });

  it('removes every settled one with --all-settled, every expired one with --all-expired', async () => {
    const { path } = await journalFile();
    const settled = await oncely('journal', 'drop', path, '--all-settled');
    expect(settled).toMatchObject({ code: 0, out: 'dropped 2 settled operations' });
    expect((await read(path)).map((e) => e.id)).toEqual(['op-expired', 'op-pending']);
    const expired = await oncely('journal', 'drop', path, '--all-expired', '--json');
    expect(JSON.parse(expired.out)).toEqual({ dropped: ['op-expired'] });
    expect((await read(path)).map((e) => e.id)).toEqual(['op-pending']);
  });
});

describe('oncely journal usage', () => {
  it.each([
    [[], 'missing action'],
    [['purge', 'f'], "unknown action 'purge'"],
    [['list'], 'missing <file>'],
    [['show', 'f'], 'missing <id>'],
    [['list', 'f', '--verbose'], "unknown option '--verbose' for list"],
    [['list', '-j', 'f'], "unknown option '-j' for list"],
    [['drop', 'f'], 'drop takes one <id>, or --all-settled, or --all-expired'],
    [['drop', 'f', 'id', '--all-settled'], 'drop takes one <id>'],
    [['show', 'f', 'a', 'b'], "unexpected argument 'b'"],
  ])('exits 2 for %j', async (args, message) => {
    const { code, err, out } = await oncely('journal', ...args);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain(message);
    expect(err).toContain('usage:');
  });

  it('prints its usage with --help and exits 0', async () => {
    const { code, out } = await oncely('journal', '--help');
    expect(code).toBe(0);
    expect(out).toContain('oncely journal retry <file> <id>');
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { lstat, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { fileJournal, type RecoveryReport } from '../../src/journal/file.ts';
import type { JournalEntry } from '../../src/journal/journal.ts';
import { JournalLockedError } from '../../src/journal/journal-locked-error.ts';
import { makeEntry, testJournal } from './contract.ts';

let directory: string;
let count = 0;
const freshPath = (): string => join(directory, `journal-${++count}.log`);

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'oncely-journal-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

testJournal(
  'file',
  async () => {
    const path = freshPath();
    return { journal: fileJournal(path), reopen: () => fileJournal(path) };
  },
  { durable: true },
);

/** Writes `n` records and closes: returns the path, the records and each line's byte range. */
async function writeLog(
  n: number,
): Promise<{ path: string; entries: JournalEntry[]; size: number }> {
  const path = freshPath();
  const journal = fileJournal(path);
  await journal.open();
  const entries = Array.from({ length: n }, () => makeEntry());
  for (const entry of entries) await journal.put(entry);
  await journal.close();
  return { path, entries, size: (await stat(path)).size };
}

async function reopenIds(path: string, reports: RecoveryReport[] = []): Promise<string[]> {
  const journal = fileJournal(path, { onRecover: (report) => reports.push(report) });
  const ids = (await journal.list()).map((entry) => entry.id);
  await journal.close();
  return ids;
}

describe('fileJournal recovery', () => {
  it('keeps every earlier record when the last line is torn at any byte', async () => {
    const { path, entries, size } = await writeLog(4);
    const original = await readFile(path);
    const lastStart = original.lastIndexOf(0x0a, size - 2) + 1;
    const earlier = entries.slice(0, 3).map((entry) => entry.id);
    for (let cut = lastStart; cut < size; cut++) {
      await writeFile(path, original.subarray(0, cut));
      const reports: RecoveryReport[] = [];
      // Every offset read-only (no fsync, fast); every 16th, and both ends, opened for writing,
      // which must also cut the torn tail off before anything can be appended after it.
      const write = cut === lastStart || cut === size - 1 || (cut - lastStart) % 16 === 0;
      const journal = fileJournal(path, { readOnly: !write, onRecover: (r) => reports.push(r) });
      expect((await journal.list()).map((entry) => entry.id)).toEqual(earlier);
      await journal.close();
      expect(reports).toHaveLength(cut === lastStart ? 0 : 1);
      expect((await stat(path)).size).toBe(write ? lastStart : cut);
    }
    await writeFile(path, original);
    expect(await reopenIds(path)).toEqual(entries.map((entry) => entry.id));
  });

  it('skips a corrupt line in the middle, reports it, and keeps every other record', async () => {
    const { path, entries } = await writeLog(5);
    const data = await readFile(path);
    const lineStarts = [0];
    for (let i = 0; i < data.length - 1; i++) if (data[i] === 0x0a) lineStarts.push(i + 1);
    // Line 0 is the header; line 3 holds the third record. Flip one byte in its JSON.
    const target = (lineStarts[3] as number) + 30;
    data[target] = (data[target] as number) ^ 0x01;
    await writeFile(path, data);
    const reports: RecoveryReport[] = [];
    const ids = await reopenIds(path, reports);
    expect(ids).toEqual(entries.filter((_, i) => i !== 2).map((entry) => entry.id));
    expect(reports).toEqual([
      {
        path,
        skippedFrames: 1,
        badOffsets: [lineStarts[3]],
        truncatedBytes: 0,
        corruptPath: `${path}.corrupt`,
      },
    ]);
    // Appending after a corrupt middle line still works, and survives another reopen.
    const journal = fileJournal(path, { onRecover: () => {} });
    const later = makeEntry();
    await journal.put(later);
    await journal.close();
    expect(await reopenIds(path)).toEqual([...ids, later.id]);
  });

  it.each(['precious\nuser\ndata\n', 'one line\n', 'no newline at all'])(
    'refuses to open %j, which is not a journal, rather than truncate it',
    async (text) => {
      const path = freshPath();
      await writeFile(path, text);
      for (const readOnly of [false, true]) {
        const error = await fileJournal(path, { readOnly })
          .open()
          .catch((e: unknown) => e);
        expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
        expect((error as Error).message).toContain('not an oncely journal');
      }
      expect(await readFile(path, 'utf8')).toBe(text);
    },
  );

  it('starts afresh from a header torn while the file was created', async () => {
    const { path } = await writeLog(0);
    const header = await readFile(path);
    for (const cut of [1, 9, header.length - 1]) {
      await writeFile(path, header.subarray(0, cut));
      expect(await reopenIds(path)).toEqual([]);
      expect(await readFile(path)).toEqual(header);
    }
  });

  it('refuses a journal written in a newer format', async () => {
    const { path } = await writeLog(1);
    const { frameLine } = await import('../../src/journal/file-format.ts');
    await writeFile(path, frameLine({ op: 'header', format: 'oncely-journal', version: 99 }));
    const error = await fileJournal(path)
      .open()
      .catch((e: unknown) => e);
    expect((error as Error).message).toContain('format 99, newer than this oncely reads');
  });

  it('rejects an unwritable path with a JournalError at open and at put', async () => {
    const journal = fileJournal(join(directory, 'no-such-dir', 'journal.log'));
    const atOpen = await journal.open().catch((e: unknown) => e);
    expect(isOncelyError(atOpen, 'JOURNAL_FAILED')).toBe(true);
    const atPut = await journal.put(makeEntry()).catch((e: unknown) => e);
    expect(isOncelyError(atPut, 'JOURNAL_FAILED')).toBe(true);
    expect((atPut as Error).message).toContain('ENOENT');
  });

  it('rejects a path that is a directory with a JournalError', async () => {
    const error = await fileJournal(directory)
      .open()
      .catch((e: unknown) => e);
    expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
    expect((error as Error).message).toContain('EISDIR');
    // The failed open let go of its lock file.
    await expect(stat(`${directory}.lock`)).rejects.toThrow();
  });
});

describe('fileJournal writes', () => {
  it('shares fsyncs between concurrent puts (group commit)', async () => {
    const journal = fileJournal(freshPath());
    await journal.open();
    await Promise.all(Array.from({ length: 64 }, () => journal.put(makeEntry())));
    const { fsyncs, writes } = journal.stats();
    expect(writes).toBe(64);
    expect(fsyncs).toBeLessThanOrEqual(8);
    // Sequential puts cannot share: one fsync each.
    for (let i = 0; i < 5; i++) await journal.put(makeEntry());
    expect(journal.stats().fsyncs).toBe(fsyncs + 5);
    await journal.close();
  });

  it('compacts once dead records pile up, and the compacted log reopens whole', async () => {
    const path = freshPath();
    const journal = fileJournal(path, { compactAfter: 50 });
    const keep = Array.from({ length: 10 }, () => makeEntry());
    for (const entry of keep) await journal.put(entry);
    for (let i = 0; i < 60; i++) {
      const entry = makeEntry();
      await journal.put(entry);
      await journal.delete(entry.id);
    }
    const stats = journal.stats();
    expect(stats.compactions).toBeGreaterThanOrEqual(1);
    expect(stats.frames - stats.live).toBeLessThan(60);
    await journal.close();
    expect(await reopenIds(path)).toEqual(keep.map((entry) => entry.id));
  });

  it('compact() leaves only live records in the file', async () => {
    const path = freshPath();
    const journal = fileJournal(path);
    const entry = makeEntry();
    await journal.put(entry);
    for (let attempts = 1; attempts <= 5; attempts++) await journal.update(entry.id, { attempts });
    await journal.compact();
    expect(journal.stats().frames).toBe(1);
    await journal.close();
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2); // header and the record
    expect(lines[1]).toContain('"attempts":5');
  });

  it('compacts a journal reached through a symlink into the file it points to', async () => {
    // The usual way to put one file on a mounted volume: `var/operations.journal -> /data/…`.
    const target = freshPath();
    const link = freshPath();
    await symlink(target, link);
    const journal = fileJournal(link);
    const keep = makeEntry();
    await journal.put(keep);
    for (let i = 0; i < 5; i++) {
      const entry = makeEntry();
      await journal.put(entry);
      await journal.delete(entry.id);
    }
    await journal.compact();
    const later = makeEntry();
    await journal.put(later);
    await journal.close();
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await reopenIds(target)).toEqual([keep.id, later.id]);
    // One lock for both names: a process opening the target keeps one opening the link out.
    const holder = fileJournal(target);
    await holder.open();
    await expect(fileJournal(link).open()).rejects.toBeInstanceOf(JournalLockedError);
    await holder.close();
  });

  it('writes the file readable by its owner only', async () => {
    const path = freshPath();
    const journal = fileJournal(path);
    await journal.open();
    await journal.close();
    expect((await stat(path)).mode & 0o077).toBe(0);
  });

  it('reads a journal another holder has open, read-only, without touching it', async () => {
    const { path, entries } = await writeLog(2);
    const writer = fileJournal(path);
    await writer.open();
    const reader = fileJournal(path, { readOnly: true });
    expect((await reader.list()).map((e) => e.id)).toEqual(entries.map((e) => e.id));
    for (const attempt of [() => reader.put(makeEntry()), () => reader.lock()]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
    }
    await reader.close();
    await writer.close();
  });
});

const CHILD = new URL('./fixtures/journal-child.ts', import.meta.url).pathname;

function startChild(mode: 'write' | 'churn' | 'hold', path: string) {
  const child = spawn(process.execPath, [CHILD, mode, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, lines, exited, stderr: () => stderr };
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null) child.kill('SIGKILL');
}

describe('fileJournal across processes', () => {
  it('keeps every acknowledged put when the writer is SIGKILLed mid-write', async () => {
    for (const stopAfter of [1, 37, 150]) {
      const path = freshPath();
      const { child, lines, exited, stderr } = startChild('write', path);
      const acknowledged: string[] = [];
      try {
        for await (const line of lines) {
          if (line.startsWith('ack ')) acknowledged.push(line.slice(4));
          if (acknowledged.length >= stopAfter) break;
        }
      } finally {
        kill(child);
      }
      await exited;
      expect(acknowledged.length, stderr()).toBeGreaterThanOrEqual(stopAfter);
      const survived = new Set(await reopenIds(path));
      for (const id of acknowledged) expect(survived.has(id)).toBe(true);
    }
  });

  it('keeps every acknowledged write when killed while deleting and compacting', async () => {
    for (const stopAfter of [60, 200, 450]) {
      const path = freshPath();
      const { child, lines, exited, stderr } = startChild('churn', path);
      // Odd-numbered records are never deleted: each acknowledged one must survive. An even one
      // whose delete was acknowledged must stay deleted.
      const kept: string[] = [];
      const deleted: string[] = [];
      try {
        for await (const line of lines) {
          const [what, id] = line.split(' ') as [string, string];
          if (what === 'ack' && Number(id.split('-')[1]) % 2 === 1) kept.push(id);
          if (what === 'del') deleted.push(id);
          if (kept.length + deleted.length >= stopAfter) break;
        }
      } finally {
        kill(child);
      }
      await exited;
      const survived = new Set(await reopenIds(path));
      expect(deleted.length, stderr()).toBeGreaterThan(0);
      expect(kept.filter((id) => !survived.has(id))).toEqual([]);
      expect(deleted.filter((id) => survived.has(id))).toEqual([]);
    }
  });

  it('lets one process hold a journal, and takes over the lock of a SIGKILLed holder', async () => {
    const path = freshPath();
    const first = startChild('hold', path);
    try {
      const [firstLine] = await Promise.all([nextLine(first.lines)]);
      expect(firstLine, first.stderr()).toBe('open');

      const second = startChild('hold', path);
      expect(await nextLine(second.lines)).toBe(`locked ${first.child.pid}`);
      expect(await second.exited).toBe(3);

      const here = await fileJournal(path)
        .open()
        .catch((e: unknown) => e);
      expect(here).toBeInstanceOf(JournalLockedError);
      expect((here as JournalLockedError).holder?.pid).toBe(first.child.pid);
    } finally {
      kill(first.child);
    }
    await first.exited;
    // The holder died without releasing: its lock file is stale, and the next opener takes over.
    expect(JSON.parse(await readFile(`${path}.lock`, 'utf8')).pid).toBe(first.child.pid);
    const third = startChild('hold', path);
    try {
      expect(await nextLine(third.lines), third.stderr()).toBe('open');
    } finally {
      kill(third.child);
    }
    await third.exited;
  });

  it('lets exactly one of several processes racing for a stale lock take it over', async () => {
    const path = freshPath();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('exit', resolve));
    const stale = { pid: dead.pid, hostname: hostname(), since: Date.now() - 60_000 };
    await writeFile(`${path}.lock`, JSON.stringify(stale));
    const racers = Array.from({ length: 4 }, () => startChild('hold', path));
    try {
      const first = await Promise.all(racers.map((racer) => nextLine(racer.lines)));
      const winners = first.filter((line) => line === 'open');
      expect(winners, racers.map((racer) => racer.stderr()).join('\n')).toHaveLength(1);
      const winner = racers[first.indexOf('open')];
      for (const line of first.filter((l) => l !== 'open')) {
        // A loser saw either the winner's lock or the winner still writing its lock file.
        expect([`locked ${winner?.child.pid}`, 'locked undefined']).toContain(line);
      }
      expect(JSON.parse(await readFile(`${path}.lock`, 'utf8')).pid).toBe(winner?.child.pid);
    } finally {
      for (const racer of racers) kill(racer.child);
    }
    await Promise.all(racers.map((racer) => racer.exited));
  });

  it('takes over a lock left by an earlier process that had this pid (a restarted container)', async () => {
    const path = freshPath();
    const before = Date.now() - process.uptime() * 1000 - 60_000;
    await writeFile(
      `${path}.lock`,
      JSON.stringify({ pid: process.pid, hostname: hostname(), since: before }),
    );
    const journal = fileJournal(path);
    await journal.open();
    // A second journal of this very process still finds the file held.
    const second = await fileJournal(path)
      .open()
      .catch((e: unknown) => e);
    expect(second).toBeInstanceOf(JournalLockedError);
    await journal.close();
  });

  it('releases its lock file on close, so the next process opens at once', async () => {
    const path = freshPath();
    const journal = fileJournal(path);
    await journal.open();
    await expect(stat(`${path}.lock`)).resolves.toBeDefined();
    await journal.close();
    await expect(stat(`${path}.lock`)).rejects.toThrow();
  });
});

async function nextLine(lines: AsyncIterable<string>): Promise<string | undefined> {
  for await (const line of lines) return line;
  return undefined;
}

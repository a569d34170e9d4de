import { Buffer } from 'node:buffer';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { fileJournal, type RecoveryReport } from '../../src/journal/file.ts';
import { ENTRY_STATE, type JournalEntry } from '../../src/journal/journal.ts';
import { makeEntry } from './contract.ts';

// "Bad input gets a clear, typed error and loses nothing": bytes the journal removes from its log
// (a torn tail, corrupt lines dropped by compaction) go to `<file>.corrupt` first, and someone is
// told.

const NOW = Date.UTC(2026, 10, 23, 19, 40);
const STAMP = '# 2026-11-23T19:40:00.000Z';

let directory: string;
let count = 0;
const freshPath = (): string => join(directory, `journal-${++count}.log`);

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'oncely-corrupt-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Writes records and closes: returns the path, the records and where each line starts. */
async function writeLog(entries: JournalEntry[], path = freshPath()) {
  const journal = fileJournal(path);
  for (const entry of entries) await journal.put(entry);
  await journal.close();
  const data = await readFile(path);
  const starts = [0];
  for (let i = 0; i < data.length - 1; i++) if (data[i] === 0x0a) starts.push(i + 1);
  return { path, data, starts };
}

/** Bytes of line `n` (0 is the header), its newline included. */
function lineOf(data: Buffer, starts: number[], n: number): Buffer {
  return data.subarray(starts[n], starts[n + 1] ?? data.length);
}

const missing = (path: string) =>
  stat(path).then(
    () => false,
    () => true,
  );

describe('fileJournal: corrupt and torn lines are set aside, never lost', () => {
  it('keeps a corrupt middle line in <file>.corrupt when compaction drops it', async () => {
    const entries = Array.from({ length: 5 }, () => makeEntry());
    const { path, data, starts } = await writeLog(entries);
    // Line 3 holds the third record: flip one byte of its JSON.
    const at = (starts[3] as number) + 30;
    data[at] = (data[at] as number) ^ 0x01;
    await writeFile(path, data);
    const bad = Buffer.from(lineOf(data, starts, 3));

    const reports: RecoveryReport[] = [];
    const journal = fileJournal(path, { now: () => NOW, onRecover: (r) => reports.push(r) });
    await journal.open();
    expect(reports).toEqual([
      {
        path,
        skippedFrames: 1,
        badOffsets: [starts[3]],
        truncatedBytes: 0,
        corruptPath: `${path}.corrupt`,
      },
    ]);
    // Nothing is cut at open: a complete line can stay, appends start after its newline.
    expect(await readFile(path)).toEqual(data);
    expect(await missing(`${path}.corrupt`)).toBe(true);

    await journal.compact();
    await journal.close();
    expect((await readFile(path)).includes(bad)).toBe(false);
    const kept = await readFile(`${path}.corrupt`);
    expect(kept).toEqual(
      Buffer.concat([
        Buffer.from(
          `${STAMP} corrupt line 4 at byte ${starts[3]}: checksum mismatch, dropped by compaction (${bad.length} bytes)\n`,
        ),
        bad,
      ]),
    );
    expect((await stat(`${path}.corrupt`)).mode & 0o077).toBe(0);
    // Set aside once: a later compaction does not write it again.
    const again = fileJournal(path);
    await again.compact();
    await again.close();
    expect(await readFile(`${path}.corrupt`)).toEqual(kept);
  });

  it('does not silently cut a hand-edited last line: it stays, then goes to the sidecar', async () => {
    // The reviewer's case: an operator edits a failed record back to pending.
    const entry = makeEntry();
    const path = freshPath();
    const journal = fileJournal(path);
    await journal.put(entry);
    await journal.update(entry.id, { state: ENTRY_STATE.failed, attempts: 3 });
    await journal.close();
    const data = await readFile(path);
    const text = data.toString('utf8');
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    const edited = Buffer.from(
      text.slice(0, lastStart) + text.slice(lastStart).replace('"failed"', '"pending"'),
    );
    expect(edited.equals(data)).toBe(false);
    await writeFile(path, edited);
    const editedLine = edited.subarray(lastStart);

    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const writer = fileJournal(path, { now: () => NOW });
    // The edit broke the checksum: the record comes back as its previous line left it.
    expect((await writer.get(entry.id))?.state).toBe(ENTRY_STATE.pending);
    expect((await writer.get(entry.id))?.attempts).toBe(0);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toContain('line 3: checksum mismatch');
    expect(warn.mock.calls[0]?.[0]).toContain(`${path}.corrupt`);
    // Still in the file after an open for writing, and after an append.
    const later = makeEntry();
    await writer.put(later);
    expect((await readFile(path)).subarray(0, edited.length)).toEqual(edited);
    await writer.compact();
    await writer.close();
    const kept = await readFile(`${path}.corrupt`, 'utf8');
    expect(kept).toContain(`corrupt line 3 at byte ${lastStart}: checksum mismatch`);
    expect(kept.endsWith(editedLine.toString('utf8'))).toBe(true);
    expect((await readFile(path)).includes(editedLine)).toBe(false);
  });

  it('sets a torn tail aside before cutting it', async () => {
    const entries = Array.from({ length: 3 }, () => makeEntry());
    const { path, data, starts } = await writeLog(entries);
    const lastStart = starts[3] as number;
    const cut = lastStart + 40;
    await writeFile(path, data.subarray(0, cut));

    const reports: RecoveryReport[] = [];
    const journal = fileJournal(path, { now: () => NOW, onRecover: (r) => reports.push(r) });
    expect((await journal.list()).map((e) => e.id)).toEqual(entries.slice(0, 2).map((e) => e.id));
    await journal.close();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ truncatedBytes: 40, corruptPath: `${path}.corrupt` });
    expect((await stat(path)).size).toBe(lastStart);
    expect(await readFile(`${path}.corrupt`)).toEqual(
      Buffer.concat([
        Buffer.from(`${STAMP} torn tail at byte ${lastStart}, cut at open (40 bytes)\n`),
        data.subarray(lastStart, cut),
        Buffer.from('\n'),
      ]),
    );
    expect((await stat(`${path}.corrupt`)).mode & 0o077).toBe(0);
  });

  it('does not cut a torn tail it could not set aside', async () => {
    const { path, data, starts } = await writeLog([makeEntry(), makeEntry()]);
    const torn = data.subarray(0, (starts[2] as number) + 20);
    await writeFile(path, torn);
    await mkdir(`${path}.corrupt`); // not writable as a file
    const error = await fileJournal(path, { onRecover: () => {} })
      .open()
      .catch((e: unknown) => e);
    expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
    expect((error as Error).message).toContain('EISDIR');
    expect(await readFile(path)).toEqual(torn);
  });

  it('does not compact away corrupt lines it could not set aside', async () => {
    const { path, data, starts } = await writeLog([makeEntry(), makeEntry(), makeEntry()]);
    const at = (starts[2] as number) + 30;
    data[at] = (data[at] as number) ^ 0x01;
    await writeFile(path, data);
    await mkdir(`${path}.corrupt`);
    const journal = fileJournal(path, { onRecover: () => {} });
    const error = await journal.compact().catch((e: unknown) => e);
    expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
    expect((error as Error).message).toContain('Setting corrupt lines aside failed');
    expect(await readFile(path)).toEqual(data);
    // The log is intact: writes go on.
    await journal.put(makeEntry());
    await journal.close();
    expect(await missing(`${path}.compact`)).toBe(true);
  });

  it('warns once per open through console.warn when there is no onRecover', async () => {
    const entries = Array.from({ length: 4 }, () => makeEntry());
    const { path, data, starts } = await writeLog(entries);
    const at = (starts[2] as number) + 30;
    data[at] = (data[at] as number) ^ 0x01;
    await writeFile(path, data.subarray(0, (starts[4] as number) + 25)); // and a torn tail
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    const journal = fileJournal(path);
    await journal.list();
    await journal.put(makeEntry());
    await journal.get(entries[0]?.id as string);
    await journal.compact();
    await journal.close();
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0]?.[0]);
    expect(message).toContain('skipped 2 torn or corrupt line(s)');
    expect(message).toContain('line 3: checksum mismatch');
    expect(message).toContain('line 5: torn write (no newline)');
    expect(message).toContain(`${path}.corrupt`);

    // The next open finds a clean log: no warning. With a hook, never a warning.
    const clean = fileJournal(path);
    await clean.open();
    await clean.close();
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('warns nothing when onRecover is given', async () => {
    const { path, data, starts } = await writeLog([makeEntry(), makeEntry()]);
    await writeFile(path, data.subarray(0, (starts[2] as number) + 5));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const reports: RecoveryReport[] = [];
    const journal = fileJournal(path, { onRecover: (r) => reports.push(r) });
    await journal.open();
    await journal.close();
    expect(reports).toHaveLength(1);
    expect(warn).not.toHaveBeenCalled();
  });

  it('writes nothing on a read-only open: no sidecar, the file untouched', async () => {
    const { path, data, starts } = await writeLog([makeEntry(), makeEntry(), makeEntry()]);
    const at = (starts[2] as number) + 30;
    data[at] = (data[at] as number) ^ 0x01;
    const damaged = data.subarray(0, (starts[3] as number) + 12);
    await writeFile(path, damaged);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const reports: RecoveryReport[] = [];
    for (const onRecover of [undefined, (r: RecoveryReport) => reports.push(r)]) {
      const reader = fileJournal(path, { readOnly: true, onRecover });
      expect(await reader.list()).toHaveLength(1);
      await reader.close();
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(reports[0]).toMatchObject({ skippedFrames: 2, corruptPath: `${path}.corrupt` });
    expect(await readFile(path)).toEqual(damaged);
    expect(await missing(`${path}.corrupt`)).toBe(true);
  });

  it('puts the sidecar beside the file a symlinked path names', async () => {
    const target = freshPath();
    const link = freshPath();
    await symlink(target, link);
    const { data, starts } = await writeLog([makeEntry(), makeEntry()], target);
    await writeFile(target, data.subarray(0, (starts[2] as number) + 9));
    const reports: RecoveryReport[] = [];
    const journal = fileJournal(link, { onRecover: (r) => reports.push(r) });
    await journal.open();
    await journal.close();
    expect(reports[0]?.corruptPath).toBe(`${target}.corrupt`);
    expect(await readFile(`${target}.corrupt`, 'utf8')).toContain('torn tail');
    expect(await missing(`${link}.corrupt`)).toBe(true);
  });
});

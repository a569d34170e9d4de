import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileJournal } from '../../src/journal/file.ts';
import { makeEntry } from './contract.ts';

// rename(2) onto a file bind-mounted into a container (`docker run -v ./ops.journal:/app/ops.journal`)
// fails with EBUSY; the test makes every rename fail that way.
const renameFails = vi.hoisted(() => ({ on: false }));
vi.mock('node:fs/promises', async (original) => {
  const fs = await original<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (renameFails.on)
        throw Object.assign(new Error(`EBUSY: rename '${from}'`), { code: 'EBUSY' });
      return fs.rename(from, to);
    },
  };
});

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'oncely-compaction-'));
});
afterAll(async () => {
  renameFails.on = false;
  await rm(directory, { recursive: true, force: true });
});

describe('fileJournal compaction that cannot rename', () => {
  it('keeps the journal writable, and does not rewrite the log on every write', async () => {
    renameFails.on = true;
    const path = join(directory, 'bind-mounted.journal');
    const journal = fileJournal(path, { compactAfter: 10 });
    const keep = makeEntry();
    await journal.put(keep);
    for (let i = 0; i < 40; i++) {
      const entry = makeEntry();
      await journal.put(entry);
      await journal.delete(entry.id);
    }
    const error = await journal.compact().catch((e: unknown) => e);
    expect((error as Error).message).toContain('EBUSY');
    // The old log is intact: writes go on.
    const later = makeEntry();
    await journal.put(later);
    const { fsyncs, writes, compactions } = journal.stats();
    expect(compactions).toBe(0);
    // One fsync per write, two to create the file, and one per failed try (its staged copy): a try
    // each 10 more dead lines (8) and the explicit one; not a try after every write past the
    // threshold (about 70).
    expect(fsyncs - writes).toBeLessThanOrEqual(2 + 8 + 1);
    await journal.close();
    renameFails.on = false;
    const reopened = fileJournal(path);
    expect((await reopened.list()).map((e) => e.id)).toEqual([keep.id, later.id]);
    await reopened.close();
  });
});

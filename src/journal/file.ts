import { Buffer } from 'node:buffer';
import {
  access,
  type FileHandle,
  open,
  readFile,
  readlink,
  realpath,
  rename,
  unlink,
} from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isOncelyError } from '../errors/oncely-error.ts';
import { corruptPathOf, type SetAside, setAside } from './corrupt-file.ts';
import {
  type BadLine,
  deleteLine,
  headerLine,
  putLine,
  type ReplayResult,
  replay,
} from './file-format.ts';
import { syncDirectory, writeAll } from './file-io.ts';
import {
  applyPatch,
  byCreation,
  type Journal,
  type JournalEntry,
  type JournalPatch,
} from './journal.ts';
import { type JournalAction, JournalError } from './journal-error.ts';
import { localLock } from './local-lock.ts';
import { acquireLockFile } from './lock-file.ts';

/** What opening a file journal found wrong, and skipped. */
export interface RecoveryReport {
  path: string;
  /** Torn or corrupt lines skipped (their records are not loaded; every intact one is). */
  skippedFrames: number;
  /** Byte offsets of those lines in the file as it was found. */
  badOffsets: number[];
  /**
   * Bytes after the last newline: a write torn by a crash. An open for writing cuts them off,
   * after setting them aside in `corruptPath`.
   */
  truncatedBytes: number;
  /**
   * `<journal file>.corrupt` (the file a symlinked path names): every byte removed from the
   * journal is appended there first, a torn tail when it is cut and a corrupt line when
   * compaction drops it. A read-only open writes nothing there.
   */
  corruptPath: string;
}

/** Options of {@link fileJournal}. */
export interface FileJournalOptions {
  /**
   * Open for reading only: no lock file, nothing truncated or written. For inspecting a journal
   * another process has open (`oncely journal list`).
   * @default false
   */
  readOnly?: boolean;
  /**
   * Create the file when it does not exist. With `false`, a missing file is a `JournalError` at
   * open (the operator command never creates a journal by mistake).
   * @default true
   */
  create?: boolean;
  /**
   * Dead records (replaced or deleted) the log may hold before it is compacted, once they also
   * outnumber the live ones.
   * @default 1000
   */
  compactAfter?: number;
  /**
   * Called once at open when torn or corrupt lines were found and skipped, such as after a crash
   * in the middle of a write or a hand edit. Without it, each such open warns once through
   * `console.warn`.
   * @example
   * ```ts
   * fileJournal('./var/operations.journal', { onRecover: (r) => log.warn('journal recovered', r) })
   * ```
   */
  onRecover?: (report: RecoveryReport) => void;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** Counters of a file journal, for tests, benchmarks and operators. */
export interface FileJournalStats {
  /**
   * fsync and fdatasync calls, all included: writes (group commit makes these far fewer than the
   * writes), creating the file, cutting a torn tail, compaction and setting bytes aside in the
   * `.corrupt` file (file and directory).
   */
  fsyncs: number;
  /** Writes acknowledged (puts, updates and deletes). */
  writes: number;
  /** Records alive. */
  live: number;
  /** Record lines in the log, live or dead. */
  frames: number;
  compactions: number;
  /** What opening found, when something was skipped. */
  recovery: RecoveryReport | undefined;
}

/** A journal in one append-only file. */
export interface FileJournal extends Journal {
  readonly path: string;
  stats(): FileJournalStats;
  /** Rewrites the log with only its live records, now. */
  compact(): Promise<void>;
}

interface Pending {
  line?: string;
  compact?: true;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A crash-safe journal in one file (issue 3), for Node. Each write is appended as a checksummed line
 * and acknowledged only after `fdatasync`; writes that arrive while a sync is under way share the
 * next one (group commit), so 64 operations started at once cost a few fsyncs, not 64. On open the
 * log is replayed: a torn or corrupt line is skipped and reported, every intact record survives, and
 * a torn tail is cut off before anything is appended. When dead records pile up the live ones are
 * rewritten to a new file, synced and renamed into place. Bytes are never just discarded: a torn
 * tail, and the corrupt lines compaction drops, are first appended to `<path>.corrupt` and synced
 * ("bad input loses nothing": a hand-edited line is set aside, not erased).
 *
 * One process writes a journal at a time: opening it for writing takes `<path>.lock` (`<path>` being
 * the target when it is a symlink, as for `.corrupt` and `.compact`), which also
 * keeps two processes from resuming the same operations; a lock left by a dead process is taken over.
 * The journal opens on first use or with `open()`; an unwritable path or a journal locked by a live
 * process rejects there with `JournalError` or `JournalLockedError`, before any request is sent.
 *
 * @example
 * ```ts
 * import { createClient } from 'oncely';
 * import { fileJournal } from 'oncely/node';
 *
 * const client = createClient({ journal: fileJournal('./var/operations.journal'), resume: true });
 * ```
 */
export function fileJournal(path: string, options: FileJournalOptions = {}): FileJournal {
  const readOnly = options.readOnly ?? false;
  const compactAfter = options.compactAfter ?? 1000;
  const now = options.now ?? Date.now;
  // The file `path` names, once opened for writing: compaction must rename over the file, not over
  // a symlink to it (that would leave the target, say on a mounted volume, with the old log), and
  // every name of one file must share one lock.
  let file = path;

  let records = new Map<string, JournalEntry>();
  let lines = new Map<string, string>();
  let frames = 0;
  let handle: FileHandle | undefined;
  let releaseLockFile: (() => Promise<void>) | undefined;
  let opening: Promise<void> | undefined;
  let broken: JournalError | undefined;
  let closed = false;
  let recovery: RecoveryReport | undefined;
  // Corrupt lines still in the log (found at open), set aside when compaction drops them.
  let unsaved: SetAside[] = [];
  const counters = { fsyncs: 0, writes: 0, compactions: 0 };

  const queue: Pending[] = [];
  let flushing: Promise<void> | undefined;
  let deadAtFailedCompaction = 0;
  // Mutations are applied in call order even when one must first read a Blob body.
  let order: Promise<unknown> = Promise.resolve();

  const fail = (action: JournalAction, message: string, cause: unknown): JournalError =>
    new JournalError(action, `${message} (${path}): ${describe(cause)}`, { cause });

  async function openNow(): Promise<void> {
    if (readOnly) {
      let data: Uint8Array;
      try {
        data = await readFile(path);
      } catch (error) {
        throw fail('open', 'Cannot read the journal', error);
      }
      const found = replay(data);
      const problem = refusal(found, data);
      if (problem) throw fail('open', 'Cannot read the journal', new Error(problem));
      load(found, data.length, await targetOf(path));
      return;
    }
    if (options.create === false) {
      try {
        await access(path);
      } catch (error) {
        throw fail('open', 'Cannot open the journal', error);
      }
    }
    file = await targetOf(path);
    try {
      releaseLockFile = await acquireLockFile(`${file}.lock`);
    } catch (error) {
      if (isOncelyError(error)) throw error;
      throw fail('lock', 'Cannot create the journal lock file', error);
    }
    try {
      // Records hold request bodies and the user's input: readable by the owner only.
      handle = await open(file, 'a+', 0o600);
      const data = await readFile(handle);
      const found = replay(data);
      const problem = refusal(found, data);
      if (problem) throw new Error(problem);
      // Complete corrupt lines can stay: an appended line starts after their newline. Torn bytes
      // cannot (the next line would be glued to them), so they are set aside and cut.
      const torn = found.bad.find((bad) => bad.torn);
      if (torn) {
        counters.fsyncs += await setAside(file, [toSetAside(torn, data, 'cut at open')], now());
        await handle.truncate(found.tornAt);
      }
      unsaved = found.bad
        .filter((bad) => !bad.torn)
        .map((bad) => toSetAside(bad, data, 'dropped by compaction'));
      if (found.tornAt === 0) {
        await writeAll(handle, Buffer.from(headerLine()));
        await handle.datasync();
        await syncDirectory(file);
        counters.fsyncs += 2;
      } else if (torn) {
        await handle.datasync();
        counters.fsyncs++;
      }
      load(found, data.length, file);
    } catch (error) {
      await handle?.close().catch(() => {});
      handle = undefined;
      await releaseLockFile?.();
      releaseLockFile = undefined;
      throw isOncelyError(error) ? error : fail('open', 'Cannot open the journal', error);
    }
  }

  function load(found: ReplayResult, size: number, target: string): void {
    records = found.records;
    lines = found.lines;
    frames = found.frames;
    if (found.bad.length === 0) return;
    recovery = {
      path,
      skippedFrames: found.bad.length,
      badOffsets: found.bad.map((bad) => bad.offset),
      truncatedBytes: size - found.tornAt,
      corruptPath: corruptPathOf(target),
    };
    if (options.onRecover) options.onRecover(recovery);
    else console.warn(warning(recovery, found.bad));
  }

  async function ready(action: JournalAction): Promise<void> {
    if (closed) throw new JournalError(action, `The journal is closed (${path})`);
    if (broken) throw broken;
    if (!opening) {
      opening = openNow();
      // A failed open is retried on the next call (the directory may be created meanwhile).
      opening.catch(() => {
        opening = undefined;
      });
    }
    await opening;
  }

  function writable(action: JournalAction): void {
    if (readOnly) throw new JournalError(action, `The journal is open read-only (${path})`);
  }

  function enqueue(item: Omit<Pending, 'resolve' | 'reject'>): Promise<void> {
    return new Promise((resolve, reject) => {
      queue.push({ ...item, resolve, reject });
      kick();
    });
  }

  function kick(): void {
    if (flushing) return;
    const run = flush();
    flushing = run;
    // Items queued after flush() saw an empty queue, but before this callback, get a new flush.
    void run.then(() => {
      if (flushing === run) flushing = undefined;
      if (queue.length > 0) kick();
    });
  }

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      if (broken) {
        for (const item of queue.splice(0)) item.reject(broken);
        return;
      }
      const first = queue[0] as Pending;
      if (first.compact) {
        queue.shift();
        await compactNow().then(first.resolve, first.reject);
        continue;
      }
      // Everything that arrived while the previous sync ran shares this write and this fsync.
      const stop = queue.findIndex((item) => item.compact);
      const batch = queue.splice(0, stop === -1 ? queue.length : stop);
      try {
        const file = handle as FileHandle;
        await writeAll(file, Buffer.from(batch.map((item) => item.line).join('')));
        await file.datasync();
        counters.fsyncs++;
      } catch (error) {
        // After a failed fsync the file's state is unknown: refuse every later write.
        broken = fail('put', 'Writing to the journal failed', error);
        for (const item of batch) item.reject(broken);
        continue;
      }
      counters.writes += batch.length;
      frames += batch.length;
      for (const item of batch) item.resolve();
      const dead = frames - records.size;
      if (dead - deadAtFailedCompaction >= compactAfter && dead > records.size) {
        await compactNow().then(
          () => {
            deadAtFailedCompaction = 0;
          },
          () => {
            // The old log is intact when compaction fails before the rename. Try again once as
            // many more lines are dead, not after every write: each try rewrites every record.
            deadAtFailedCompaction = dead;
          },
        );
      }
    }
  }

  async function compactNow(): Promise<void> {
    const temporary = `${file}.compact`;
    const live = [...lines.values()];
    let staged: FileHandle | undefined;
    try {
      staged = await open(temporary, 'w', 0o600);
      await writeAll(staged, Buffer.from(headerLine() + live.join('')));
      await staged.sync();
      counters.fsyncs++;
      await staged.close();
      staged = undefined;
    } catch (error) {
      await staged?.close().catch(() => {});
      await unlink(temporary).catch(() => {});
      throw fail('compact', 'Compacting the journal failed', error);
    }
    if (unsaved.length > 0) {
      // The new log leaves the corrupt lines out: keep them first, or refuse to compact.
      try {
        counters.fsyncs += await setAside(file, unsaved, now());
      } catch (error) {
        await unlink(temporary).catch(() => {});
        throw fail('compact', 'Setting corrupt lines aside failed; not compacting', error);
      }
      unsaved = [];
    }
    try {
      await rename(temporary, file);
    } catch (error) {
      // The log was not replaced (EBUSY on a file bind-mounted into a container): it and our
      // handle on it are intact, so writes go on.
      await unlink(temporary).catch(() => {});
      throw fail('compact', 'Compacting the journal failed', error);
    }
    try {
      await syncDirectory(file);
      counters.fsyncs++;
      await handle?.close();
      handle = await open(file, 'a+', 0o600);
    } catch (error) {
      broken = fail('compact', 'Compacting the journal failed after the rename', error);
      throw broken;
    }
    frames = live.length;
    counters.compactions++;
  }

  function mutate<T>(
    action: JournalAction,
    step: () => Promise<{ line?: string; result: T }>,
  ): Promise<T> {
    const run = order.then(async () => {
      await ready(action);
      writable(action);
      const { line, result } = await step();
      return { durable: line === undefined ? undefined : enqueue({ line }), result };
    });
    order = run.catch(() => {});
    return run.then(async ({ durable, result }) => {
      await durable;
      return result;
    });
  }

  /**
   * A copy of a record or patch, taken when the call is made: the write may wait behind others,
   * and a change the caller makes to its object meanwhile must not reach the journal.
   */
  function snapshot<T>(value: T, id: string, action: JournalAction): T {
    try {
      // structuredClone: it refuses what JSON would silently drop (a function in `input`).
      return structuredClone(value);
    } catch (error) {
      throw fail(action, `Record ${id} cannot be written`, error);
    }
  }

  /** The record's log line. */
  async function lineOf(entry: JournalEntry, action: JournalAction): Promise<string> {
    try {
      return await putLine(entry);
    } catch (error) {
      throw fail(action, `Record ${entry.id} cannot be written`, error);
    }
  }

  return {
    kind: 'file',
    durable: true,
    path,
    open: () => ready('open'),
    put(entry) {
      let copy: JournalEntry;
      try {
        copy = snapshot(entry, entry.id, 'put');
      } catch (error) {
        return Promise.reject(error);
      }
      return mutate('put', async () => {
        const line = await lineOf(copy, 'put');
        records.set(copy.id, copy);
        lines.set(copy.id, line);
        return { line, result: undefined };
      });
    },
    update(id: string, patch: JournalPatch) {
      let given: JournalPatch;
      try {
        given = snapshot(patch, id, 'update');
      } catch (error) {
        return Promise.reject(error);
      }
      return mutate('update', async () => {
        const entry = records.get(id);
        if (entry === undefined) return { result: undefined };
        const next = applyPatch(entry, given, now());
        const line = await lineOf(next, 'update');
        records.set(id, next);
        lines.set(id, line);
        return { line, result: structuredClone(next) };
      });
    },
    delete(id) {
      return mutate('delete', async () => {
        if (!records.delete(id)) return { result: false };
        lines.delete(id);
        return { line: deleteLine(id), result: true };
      });
    },
    async get(id) {
      await ready('read');
      const entry = records.get(id);
      return entry === undefined ? undefined : structuredClone(entry);
    },
    async list() {
      await ready('read');
      return [...records.values()].map((entry) => structuredClone(entry)).sort(byCreation);
    },
    lock: ((local) => async (lockOptions) => {
      // The lock file taken at open already keeps other processes out; inside this process one
      // resume at a time.
      await ready('lock');
      // A read-only journal took no lock file: it cannot keep other processes out.
      writable('lock');
      return local(lockOptions);
    })(localLock()),
    compact() {
      return mutate('compact', async () => ({ result: undefined })).then(async () => {
        await enqueue({ compact: true });
      });
    },
    stats: () => ({
      ...counters,
      live: records.size,
      frames,
      recovery,
    }),
    async close() {
      if (closed) return;
      await order;
      while (flushing) await flushing;
      closed = true;
      await opening?.catch(() => {});
      await handle?.close().catch(() => {});
      handle = undefined;
      await releaseLockFile?.();
      releaseLockFile = undefined;
    },
  };
}

/** Why `data` must not be opened as a journal, if it must not. */
function refusal(found: ReplayResult, data: Uint8Array): string | undefined {
  if (found.newerVersion !== undefined) {
    return `it was written in format ${found.newerVersion}, newer than this oncely reads`;
  }
  // With no intact line at all, the only thing to accept is a header torn while being created.
  if (found.frames === 0 && !found.header && data.length > 0) {
    const torn = Buffer.from(headerLine()).subarray(0, data.length);
    if (!torn.equals(data)) return 'it is not an oncely journal; refusing to truncate it';
  }
  return undefined;
}

/** A bad line's bytes, copied (not a view that would keep the whole file in memory). */
function toSetAside(bad: BadLine, data: Uint8Array, fate: string): SetAside {
  const bytes = Buffer.from(data.subarray(bad.offset, bad.offset + bad.length));
  const what = bad.torn ? 'torn tail' : `corrupt line ${bad.line}`;
  const reason = bad.torn ? '' : `: ${bad.reason}`;
  return { bytes, why: `${what} at byte ${bad.offset}${reason}, ${fate}` };
}

/** The warning of an open that skipped lines and has no `onRecover` to tell. */
function warning(report: RecoveryReport, bad: BadLine[]): string {
  const where = bad.map((line) => `line ${line.line}: ${line.reason}`).join('; ');
  return (
    `oncely: the journal ${report.path} skipped ${bad.length} torn or corrupt line(s) (${where}). ` +
    `Every byte removed from the journal is kept in ${report.corruptPath}: a torn tail when an ` +
    'open for writing cuts it, a corrupt line when compaction drops it. Pass onRecover to handle this.'
  );
}

/** The file `path` names through any symlinks, including one to a file not created yet. */
async function targetOf(path: string): Promise<string> {
  let name = path;
  for (let hops = 0; hops < 32; hops++) {
    try {
      return await realpath(name);
    } catch {
      // Missing: a dangling symlink names its future target; anything else is used as given.
      const link = await readlink(name).catch(() => undefined);
      if (link === undefined) return name;
      name = resolve(dirname(name), link);
    }
  }
  return name;
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * The Journal interface: where durable operations are written before their first attempt, so that
 * one outlives its tab or process and is resumed with its original key (issue 3). A journal stores
 * records and offers an exclusive lock; what to retry, when, and what "expired" means is decided by
 * the client, never by a journal. Each journal passes `test/journal/contract.ts`.
 */

/** Version of the record format. Bumped on any incompatible change; readers refuse newer ones. */
export const JOURNAL_FORMAT_VERSION = 1;

/**
 * Where an operation stands. `pending` and `running` are unsettled: `resume()` runs them again
 * (`running` means an attempt was under way when the tab or process died). `succeeded` and `failed`
 * are settled and kept only when the user asks for it. `expired` was pending longer than its
 * lifetime: never sent again blindly, the application decides (issue 3).
 */
export const ENTRY_STATE = {
  pending: 'pending',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  expired: 'expired',
} as const;

/** One of {@link ENTRY_STATE}'s values. */
// oncely's own code writes states as literals of this type (checked all the same), so that a
// client bundle need not carry the ENTRY_STATE object.
export type EntryState = (typeof ENTRY_STATE)[keyof typeof ENTRY_STATE];

/** True for states `resume()` runs again. */
export function isUnsettled(state: EntryState): boolean {
  return state === 'pending' || state === 'running';
}

/**
 * A request body in a form every journal can keep. `bytes` and `blob` hold binary data as it is
 * (IndexedDB keeps them by structured clone); the file journal writes them as base64.
 */
export type PersistedBody =
  /** From the `json` option: sent as `JSON.stringify(value)` with `content-type: application/json`. */
  | { type: 'json'; value: unknown }
  | { type: 'text'; value: string }
  /** URLSearchParams, as its `toString()`. */
  | { type: 'params'; value: string }
  /** ArrayBuffer, typed array or DataView: a copy of the bytes it viewed. */
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'blob'; value: Blob }
  /** FormData without files: its fields in order. */
  | { type: 'form'; value: [string, string][] };

/** A request as written in a journal. Secret headers are never in it. */
export interface PersistedRequest {
  url: string;
  /** Upper case. */
  method: string;
  /** Lower-case names, in order, without `authorization`, `cookie`, `proxy-authorization` and the user's secrets. */
  headers: [string, string][];
  body?: PersistedBody;
}

/** The last failure of an operation, kept for operators and for `onError` after a resume. */
export interface JournalErrorInfo {
  /** An oncely error code (`RETRY_LIMIT`, `NETWORK`…) or the error's name. */
  code: string;
  message: string;
  /** HTTP status of the last response, when there was one. */
  status?: number;
}

/** One durable operation, as a journal stores it. Every field survives JSON except binary bodies. */
export interface JournalEntry {
  /** Format version, {@link JOURNAL_FORMAT_VERSION} when written. */
  version: number;
  /** Unique id of this record (not the idempotency key: a key may be reused after settling). */
  id: string;
  /** Name of the operation definition (`client.operation(name, …)`) that runs it on resume. */
  name: string;
  /** The idempotency key every attempt carries. */
  key: string;
  request: PersistedRequest;
  /** The input given to `op.run(input)`, when JSON-serialisable: `resume()` hands it to the hooks. */
  input?: unknown;
  /** Attempts sent so far, across sessions. */
  attempts: number;
  state: EntryState;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last change. */
  updatedAt: number;
  /** Epoch ms before which the operation must not be sent again (backoff, `Retry-After`); absent: due now. */
  nextAttemptAt?: number;
  /**
   * Epoch ms after which an unsettled operation is not sent again but moved to `expired`: past it,
   * the server may have forgotten the key and would do the work twice. Set by the client from its
   * lifetime option (default 23 h); absent: never expires.
   */
  expiresAt?: number;
  lastError?: JournalErrorInfo;
}

/**
 * Fields {@link Journal.update} may change. `updatedAt` is set to now unless given. The key is not
 * among them: every attempt of an operation carries the key of its first (issue 3).
 */
export type JournalPatch = Partial<
  Pick<
    JournalEntry,
    'attempts' | 'state' | 'updatedAt' | 'nextAttemptAt' | 'expiresAt' | 'lastError' | 'input'
  >
>;

/** Options of {@link Journal.lock}. */
export interface LockOptions {
  /**
   * Wait for the lock when another holder has it. With `false`, `lock()` resolves `undefined` at
   * once instead.
   * @default false
   */
  wait?: boolean;
  /** Gives up waiting: `lock()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A held lock. Release it when done (in a `finally`). It deliberately has no
 * `Symbol.asyncDispose`: that would make every consumer's types need the `esnext.disposable` lib.
 */
export interface JournalLock {
  release(): Promise<void>;
}

/**
 * Storage for durable operations. Every write resolves only once it is durable (fsync, or an
 * IndexedDB transaction committed with strict durability) and rejects with a `JournalError`
 * otherwise. Methods may be called concurrently; writes to one id apply in call order.
 *
 * @example
 * ```ts
 * import { fileJournal } from 'oncely/node';
 *
 * const journal = fileJournal('./operations.journal');
 * await journal.put(entry);                        // on disk when this resolves
 * await journal.update(entry.id, { state: 'running', attempts: 1 });
 * const lock = await journal.lock();               // undefined if another tab/process resumes
 * if (lock) try { console.log(await journal.list()) } finally { await lock.release() }
 * ```
 */
export interface Journal {
  /** Journal kind, for messages and the CLI: `'memory'`, `'file'`, `'indexeddb'`. */
  readonly kind: string;
  /** False for the memory journal: its records die with the process, so nothing can be resumed. */
  readonly durable: boolean;
  /**
   * Opens the journal now instead of on first use, so that an unwritable path or a missing
   * IndexedDB is reported at start-up. Idempotent.
   */
  open(): Promise<void>;
  /** Writes `entry`, replacing any record with its id. Durable when it resolves. */
  put(entry: JournalEntry): Promise<void>;
  /**
   * Changes some fields of the record `id` in one atomic step.
   * @returns the record as written, or `undefined` when there is no record `id` (nothing is written).
   */
  update(id: string, patch: JournalPatch): Promise<JournalEntry | undefined>;
  /** Removes the record `id`. @returns false when there was none. */
  delete(id: string): Promise<boolean>;
  get(id: string): Promise<JournalEntry | undefined>;
  /** Every record, oldest first (by `createdAt`, then id). */
  list(): Promise<JournalEntry[]>;
  /**
   * Takes the journal's exclusive lock, held by one `resume()` at a time across tabs (Web Locks)
   * or processes (a lock file), so no two send the same operation at once.
   * @returns the lock, or `undefined` when another holder has it and `wait` is false.
   */
  lock(options?: LockOptions): Promise<JournalLock | undefined>;
  /** Waits for pending writes, releases locks and closes files or databases. */
  close(): Promise<void>;
}

/**
 * Runs `fn` while holding `journal`'s lock, and releases it however `fn` ends.
 * @returns `fn`'s result, or `undefined` when the lock was held elsewhere and `wait` is false.
 * @example
 * ```ts
 * const resumed = await withJournalLock(journal, () => journal.list());
 * if (resumed === undefined) console.log('another tab or process is resuming');
 * ```
 */
export async function withJournalLock<T>(
  journal: Journal,
  fn: () => Promise<T>,
  options?: LockOptions,
): Promise<T | undefined> {
  const lock = await journal.lock(options);
  if (lock === undefined) return undefined;
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** The record after `patch`, with `updatedAt` set to `now` unless the patch gives it. */
export function applyPatch(entry: JournalEntry, patch: JournalPatch, now: number): JournalEntry {
  const next: JournalEntry = { ...entry, ...patch, updatedAt: patch.updatedAt ?? now };
  // `nextAttemptAt: undefined` in a patch means "due now": drop the field rather than keep it.
  for (const field of ['nextAttemptAt', 'expiresAt', 'lastError', 'input'] as const) {
    if (field in patch && patch[field] === undefined) delete next[field];
  }
  return next;
}

/** Orders records as {@link Journal.list} returns them. */
export function byCreation(a: JournalEntry, b: JournalEntry): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

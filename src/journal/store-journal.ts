import {
  applyPatch,
  byCreation,
  type Journal,
  type JournalEntry,
  type JournalLock,
  type LockOptions,
} from './journal.ts';
import { type JournalAction, JournalError } from './journal-error.ts';

/** The records of a store as one transaction sees them. */
export interface StoredRecords {
  get(id: string): Promise<JournalEntry | undefined>;
  all(): Promise<JournalEntry[]>;
  /** Writes `entry` (the journal's own copy) under its id, replacing any record there. */
  put(entry: JournalEntry): void;
  /** @returns false when there was no record `id`. */
  delete(id: string): Promise<boolean>;
}

/**
 * What a backend gives {@link storeJournal}: transactions over its records, a lock and a way to
 * close. The memory and IndexedDB journals implement only these; refusing calls after close,
 * patching, ordering and turning failures into a `JournalError` are written once, here.
 */
export interface RecordStore {
  readonly kind: string;
  readonly durable: boolean;
  /** Names the journal in error messages. */
  readonly name: string;
  /** Clock of `updatedAt`. @default Date.now */
  readonly now?: (() => number) | undefined;
  /**
   * Runs `work` in one transaction, isolated from the others; a `write` one resolves once it is
   * durable.
   */
  transact<T>(write: boolean, work: (records: StoredRecords) => Promise<T> | T): Promise<T>;
  lock(options?: LockOptions): Promise<JournalLock | undefined>;
  close(): void;
}

/** A {@link Journal} over a backend's primitives. */
export function storeJournal(store: RecordStore): Journal {
  const now = store.now ?? Date.now;
  let closed = false;

  /**
   * One transaction. `given` (a record or a patch from the caller) is copied here, at the call:
   * the transaction may run later, and a change the caller makes to its object meanwhile must
   * not reach the journal.
   */
  async function call<T, Given = undefined>(
    action: JournalAction,
    write: boolean,
    work: (records: StoredRecords, given: Given) => Promise<T> | T,
    given?: Given,
  ): Promise<T> {
    if (closed) throw new JournalError(action, `The journal ${store.name} is closed`);
    try {
      const copy = structuredClone(given) as Given;
      return await store.transact(write, (records) => work(records, copy));
    } catch (error) {
      throw new JournalError(action, `The journal ${store.name} failed to ${action}: ${error}`, {
        cause: error,
      });
    }
  }

  return {
    kind: store.kind,
    durable: store.durable,
    open: () => call('open', false, () => undefined),
    put: (entry) => call('put', true, (records, copy) => records.put(copy), entry),
    update: (id, patch) =>
      call(
        'update',
        true,
        async (records, copy) => {
          const entry = await records.get(id);
          if (entry === undefined) return undefined;
          const next = applyPatch(entry, copy, now());
          records.put(next);
          return next;
        },
        patch,
      ),
    delete: (id) => call('delete', true, (records) => records.delete(id)),
    get: (id) => call('read', false, (records) => records.get(id)),
    list: async () => (await call('read', false, (records) => records.all())).sort(byCreation),
    lock: (options) => store.lock(options),
    async close() {
      closed = true;
      store.close();
    },
  };
}

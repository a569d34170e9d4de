import type { Journal, JournalEntry } from './journal.ts';
import { localLock } from './local-lock.ts';
import { type StoredRecords, storeJournal } from './store-journal.ts';

/** Options of {@link memoryJournal}. */
export interface MemoryJournalOptions {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/**
 * The default journal: records in a `Map` of this process. Nothing survives a crash or reload, so
 * nothing is resumed; right for tests and short-lived scripts. Records are copied in and out
 * (structured clone), so later changes to an object never reach the journal.
 *
 * @example
 * ```ts
 * const client = createClient({ journal: memoryJournal() });
 * ```
 */
export function memoryJournal(options: MemoryJournalOptions = {}): Journal {
  const records = new Map<string, JournalEntry>();
  const view: StoredRecords = {
    // Copies in and out (structuredClone(undefined) is undefined).
    get: async (id) => structuredClone(records.get(id)),
    all: async () => structuredClone([...records.values()]),
    // Copied by storeJournal when put() was called (a record that cannot be copied fails there).
    put: (entry) => void records.set(entry.id, entry),
    delete: async (id) => records.delete(id),
  };
  // One transaction at a time, in call order: an update reads and writes with nothing in between.
  let last: Promise<unknown> = Promise.resolve();

  return storeJournal({
    kind: 'memory',
    durable: false,
    name: 'in memory',
    now: options.now,
    transact: (_write, work) => {
      const done = last.then(() => work(view));
      last = done.catch(() => {});
      return done;
    },
    lock: localLock(),
    // After the calls already queued, which then still see the records.
    close: () => {
      last = last.then(() => records.clear());
    },
  });
}

import {
  applyPatch,
  byCreation,
  type Journal,
  type JournalEntry,
  type JournalPatch,
} from './journal.ts';
import { JournalError } from './journal-error.ts';
import { localLock } from './local-lock.ts';

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
  const now = options.now ?? Date.now;
  const records = new Map<string, JournalEntry>();
  let closed = false;

  const usable = (action: 'put' | 'update' | 'delete' | 'read'): void => {
    if (closed) throw new JournalError(action, 'The memory journal is closed');
  };
  const copy = (entry: JournalEntry, action: 'put' | 'update' | 'read'): JournalEntry => {
    try {
      return structuredClone(entry);
    } catch (error) {
      throw new JournalError(action, `Record ${entry.id} cannot be copied`, { cause: error });
    }
  };

  return {
    kind: 'memory',
    durable: false,
    async open() {},
    async put(entry) {
      usable('put');
      records.set(entry.id, copy(entry, 'put'));
    },
    async update(id: string, patch: JournalPatch) {
      usable('update');
      const entry = records.get(id);
      if (entry === undefined) return undefined;
      const next = copy(applyPatch(entry, patch, now()), 'update');
      records.set(id, next);
      return copy(next, 'read');
    },
    async delete(id) {
      usable('delete');
      return records.delete(id);
    },
    async get(id) {
      usable('read');
      const entry = records.get(id);
      return entry === undefined ? undefined : copy(entry, 'read');
    },
    async list() {
      usable('read');
      return [...records.values()].map((entry) => copy(entry, 'read')).sort(byCreation);
    },
    lock: localLock(),
    async close() {
      closed = true;
      records.clear();
    },
  };
}

import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { indexedDbJournal } from '../../src/journal/indexeddb.ts';
import { JournalError } from '../../src/journal/journal-error.ts';
import { makeEntry, testJournal } from './contract.ts';

// fake-indexeddb serves the fast unit tests; the real-browser test is test/journal/browser.test.ts.
testJournal(
  'indexeddb (fake-indexeddb)',
  async () => {
    const factory = new IDBFactory();
    const database = `test-${Math.random()}`;
    return {
      journal: indexedDbJournal({ indexedDB: factory, database }),
      reopen: () => indexedDbJournal({ indexedDB: factory, database }),
    };
  },
  { durable: true },
);

describe('indexedDbJournal', () => {
  it('asks for strict durability on every read-write transaction', async () => {
    const factory = new IDBFactory();
    const seen: unknown[] = [];
    const open = factory.open.bind(factory);
    factory.open = (name: string, version?: number) => {
      const request = open(name, version);
      request.addEventListener('success', () => {
        const db = request.result;
        const transaction = db.transaction.bind(db);
        db.transaction = ((
          stores: string | string[],
          mode?: IDBTransactionMode,
          options?: IDBTransactionOptions,
        ) => {
          seen.push([mode, options?.durability]);
          return transaction(stores, mode, options);
        }) as IDBDatabase['transaction'];
      });
      return request;
    };
    const journal = indexedDbJournal({ indexedDB: factory });
    const entry = makeEntry();
    await journal.put(entry);
    await journal.update(entry.id, { attempts: 1 });
    await journal.delete(entry.id);
    await journal.list();
    await journal.close();
    expect(seen).toEqual([
      ['readwrite', 'strict'],
      ['readwrite', 'strict'],
      ['readwrite', 'strict'],
      ['readonly', undefined],
    ]);
  });

  it('turns a failed write (full quota) into a JournalError carrying the cause', async () => {
    const factory = new IDBFactory();
    const journal = indexedDbJournal({ indexedDB: factory, database: 'full' });
    await journal.open();
    // The real quota cannot be filled in Node; a value IndexedDB refuses fails the same write path.
    const entry = { ...makeEntry(), input: () => 'not cloneable' };
    const error = await journal.put(entry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalError);
    expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
    expect((error as JournalError).action).toBe('put');
    expect((error as JournalError).cause).toBeInstanceOf(Error);
    await journal.close();
  });

  it('adds its store to a database that exists without it, and keeps what was there', async () => {
    const factory = new IDBFactory();
    const first = indexedDbJournal({ indexedDB: factory, database: 'shared', store: 'a' });
    const kept = makeEntry();
    await first.put(kept);
    const second = indexedDbJournal({ indexedDB: factory, database: 'shared', store: 'b' });
    const other = makeEntry();
    await second.put(other);
    // The first connection was closed by the upgrade; the journal reconnects on its own.
    expect((await first.list()).map((entry) => entry.id)).toEqual([kept.id]);
    expect((await second.list()).map((entry) => entry.id)).toEqual([other.id]);
    await first.close();
    await second.close();
  });

  it('reports a missing IndexedDB at open', async () => {
    const journal = indexedDbJournal({ indexedDB: undefined as unknown as IDBFactory });
    const saved = globalThis.indexedDB;
    expect(saved).toBeUndefined();
    const error = await journal.open().catch((e: unknown) => e);
    expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
  });
});

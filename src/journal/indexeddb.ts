import { promisifyRequest, type UseStore } from 'idb-keyval';
import type { Journal, JournalEntry, JournalLock, LockOptions } from './journal.ts';
import { localLock } from './local-lock.ts';
import { storeJournal } from './store-journal.ts';

/** Options of {@link indexedDbJournal}. */
export interface IndexedDbJournalOptions {
  /**
   * Database name. Give each app (or each user, on a shared origin) its own, and not your app's
   * own database: adding the journal's store to it raises its version, after which your code's
   * `indexedDB.open(name, version)` with the old version fails with `VersionError`, and while your
   * code holds it open without closing on `versionchange` every journal call fails.
   * @default 'oncely'
   */
  database?: string;
  /** @default 'journal' */
  store?: string;
  /** The IndexedDB factory, for tests (fake-indexeddb) or workers. @default globalThis.indexedDB */
  indexedDB?: IDBFactory;
  /**
   * The Web Locks manager that keeps two tabs from resuming at once. Without one (very old
   * browsers) the lock holds inside this page only.
   * @default globalThis.navigator.locks
   */
  locks?: LockManager;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** An idb-keyval store whose read-write transactions commit with strict durability. */
export interface StrictStore extends UseStore {
  close(): void;
}

/**
 * Like idb-keyval's `createStore`, but read-write transactions ask for `durability: 'strict'`:
 * Chromium's default ("relaxed" since v83) acknowledges a commit before it reaches the disk, and
 * such a commit can be lost in a crash (issue 3). idb-keyval's `createStore` has no option for it.
 *
 * @example
 * ```ts
 * import { set } from 'idb-keyval';
 *
 * const store = createStrictStore('my-app', 'kv');
 * await set('k', { draft: true }, store); // on disk when this resolves
 * ```
 */
export function createStrictStore(
  database: string,
  storeName: string,
  factory: IDBFactory = globalThis.indexedDB,
): StrictStore {
  let connection: Promise<IDBDatabase> | undefined;
  // Set while an upgrade that adds the store waits for another connection to close.
  let blocked: Error | undefined;
  const forget = (): void => {
    connection = undefined;
  };
  const openWith = (version?: number): Promise<IDBDatabase> => {
    const request = factory.open(database, version);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(storeName)) {
        request.result.createObjectStore(storeName);
      }
    };
    const opened = promisifyRequest(request).then((db) => {
      if (db.objectStoreNames.contains(storeName)) {
        // Browsers close a connection on their own (storage cleared, Safari): reopen next time.
        db.onclose = forget;
        // Another tab upgrading the database (adding its store): let it, and reopen next time.
        db.onversionchange = () => {
          db.close();
          forget();
        };
        return db;
      }
      // The database exists without this store (another journal or app uses another store in
      // it): an upgrade is the only way to add one. idb-keyval's createStore fails here instead.
      db.close();
      return openWith(db.version + 1);
    });
    return new Promise((resolve, reject) => {
      opened.then(resolve, reject);
      // Another connection to the database (the app's own, sharing it) does not close for the
      // upgrade: fail now, and every call until the upgrade has run, rather than hang each one.
      request.onblocked = () => {
        blocked = new Error(
          `IndexedDB database '${database}' is held open by another connection, so store '${storeName}' cannot be added`,
        );
        reject(blocked);
        opened
          .then(
            (db) => db.close(),
            () => {},
          )
          .then(() => {
            blocked = undefined;
          });
      };
    });
  };
  const store = (<T>(
    mode: IDBTransactionMode,
    callback: (objectStore: IDBObjectStore) => T | PromiseLike<T>,
  ): Promise<T> => {
    if (!factory) return Promise.reject(new Error('IndexedDB is not available here'));
    if (blocked) return Promise.reject(blocked);
    if (!connection) {
      connection = openWith();
      // A failed open is tried again on the next call.
      connection.catch(forget);
    }
    return connection.then((db) => {
      const options: IDBTransactionOptions | undefined =
        mode === 'readwrite' ? { durability: 'strict' } : undefined;
      return callback(db.transaction(storeName, mode, options).objectStore(storeName));
    });
  }) as StrictStore;
  store.close = () => {
    connection?.then(
      (db) => db.close(),
      () => {},
    );
    forget();
  };
  return store;
}

/**
 * A journal in IndexedDB, for browsers (issue 3): records are written with strict durability, and
 * Blob and ArrayBuffer bodies are kept as they are (structured clone). Two tabs of one origin share
 * it; `lock()` takes a Web Lock, so only one tab resumes at a time. A full quota or any failed
 * write rejects with `JournalError` (`quota: true` for a full quota) before the request is sent.
 *
 * @example
 * ```ts
 * import { createClient } from 'oncely';
 * import { indexedDbJournal } from 'oncely/browser';
 *
 * const client = createClient({ journal: indexedDbJournal({ database: 'shop-oncely' }), resume: true });
 * ```
 */
export function indexedDbJournal(options: IndexedDbJournalOptions = {}): Journal {
  const database = options.database ?? 'oncely';
  const storeName = options.store ?? 'journal';
  const locks = options.locks ?? globalThis.navigator?.locks;
  const store = createStrictStore(database, storeName, options.indexedDB ?? globalThis.indexedDB);
  const lockName = `oncely:${database}/${storeName}`;
  const pageLock = localLock();

  return storeJournal({
    kind: 'indexeddb',
    durable: true,
    name: lockName,
    now: options.now,
    transact: (write, work) =>
      store(write ? 'readwrite' : 'readonly', async (objectStore) => {
        // idb-keyval's get/set/entries are not used: their default-store parameter brings its
        // createStore into every bundle, and this journal always has its own (strict) store.
        const result = await work({
          get: (id) => promisifyRequest<JournalEntry | undefined>(objectStore.get(id)),
          all: () => promisifyRequest<JournalEntry[]>(objectStore.getAll()),
          put: (entry) => void objectStore.put(entry, entry.id),
          delete: async (id) => {
            const found = (await promisifyRequest(objectStore.count(id))) > 0;
            if (found) objectStore.delete(id);
            return found;
          },
        });
        // A read-write transaction resolves once it has committed (strictly).
        if (write) await promisifyRequest(objectStore.transaction);
        return result;
      }),
    lock: (lockOptions) => (locks ? webLock(locks, lockName, lockOptions) : pageLock(lockOptions)),
    close: () => store.close(),
  });
}

/**
 * Holds the Web Lock `name` until released: `navigator.locks.request` keeps a lock while its
 * callback's promise is pending, so the callback returns one that `release()` settles.
 */
function webLock(
  locks: LockManager,
  name: string,
  options: LockOptions = {},
): Promise<JournalLock | undefined> {
  return new Promise<JournalLock | undefined>((resolve, reject) => {
    // Exclusive is the default mode. A signal left undefined counts as absent.
    const request: { ifAvailable?: boolean; signal?: AbortSignal | undefined } = options.wait
      ? { signal: options.signal }
      : { ifAvailable: true };
    // Settles once the lock is free again: request() settles after the callback's promise. A
    // failure before the lock is granted (the signal aborted the wait) rejects lock().
    const held: Promise<void> = locks
      .request(name, request, (lock) => {
        if (lock === null) {
          resolve(undefined);
          return undefined;
        }
        return new Promise<void>((done) => {
          resolve({
            release: () => {
              done();
              return held;
            },
          });
        });
      })
      .then(() => {}, reject);
  });
}

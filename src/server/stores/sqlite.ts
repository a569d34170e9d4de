import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import {
  COLUMNS,
  DEFAULT_TABLE,
  indexName,
  quoteTable,
  type RecordRow,
  recordFromRow,
  recordParams,
} from './sql-record.ts';
import type { Store } from './store.ts';
import { StoreError } from './store-error.ts';
import { toStoreError } from './to-store-error.ts';

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Database file, created if missing (its directory must exist), or `':memory:'` for a private
   * in-memory database. Several processes may share one file.
   * @default ':memory:'
   */
  path?: string;
  /**
   * Table holding the records, created if missing: a plain identifier (no schema).
   * @default 'oncely_records'
   */
  table?: string;
  /**
   * How long a write waits for another connection's write lock, in ms, before failing with a
   * {@link StoreError}. `node:sqlite` is synchronous, so the wait blocks this thread.
   * @default 5_000
   */
  busyTimeoutMs?: number;
  /**
   * SQLite's `synchronous` setting. `'full'` syncs the file on every commit, so a completed record
   * survives a power cut; `'normal'` syncs only at WAL checkpoints: several times faster, still
   * safe against a process crash, but a power cut may lose the last records (and a retry of such a
   * key would run again).
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
  /**
   * How often expired rows are deleted, in ms; the timer does not keep the process alive. `0`
   * disables the timer (expired rows are still ignored, replaced on claim, and deleted by
   * {@link SqliteStore.sweep}).
   * @default 60_000
   */
  sweepIntervalMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** A {@link Store} on SQLite, with its housekeeping exposed. */
export interface SqliteStore extends Store {
  /** Deletes expired rows now. @returns how many were deleted. */
  sweep(): Promise<number>;
  /** Stops the sweep timer and closes the database. */
  close(): Promise<void>;
}

/** A write waiting for the next group commit. */
interface Queued {
  work(): unknown;
  done(result: unknown): void;
  fail(error: unknown): void;
}

/** Marks a queued write whose statement failed (its caller is already told). */
const FAILED: unique symbol = Symbol('failed');

/**
 * Most writes in one transaction. `node:sqlite` is synchronous, so a batch holds the event loop
 * while it runs: about 8 ms for 1,000 claims on a file with `synchronous: 'full'` (196 ms for
 * 50,000). A larger queue goes in several batches, a turn apart, so a flood of writes neither
 * stalls every request for long nor lets one failed commit fail all of them.
 */
const MAX_BATCH = 1_000;

// SQLite's primary result code for "another connection holds the lock".
const SQLITE_BUSY = 5;

/**
 * Runs `sql`, again every few ms while SQLite answers SQLITE_BUSY, for up to `timeoutMs`. Blocks
 * the thread while it waits, as a wait in SQLite's own busy handler does.
 */
function retryBusy(db: DatabaseSync, sql: string, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.exec(sql);
      return;
    } catch (error) {
      const { errcode, message } = error as { errcode?: unknown; message?: unknown };
      // By its code, or by SQLite's own message where an older Node gives no `errcode`.
      const busy =
        typeof errcode === 'number'
          ? (errcode & 0xff) === SQLITE_BUSY
          : typeof message === 'string' && message.includes('database is locked');
      if (!busy || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

/**
 * A durable store in one SQLite file, on Node's built-in `node:sqlite` (Node 22.13+, no native
 * addon). The file is in WAL mode and writes run in `BEGIN IMMEDIATE` transactions, so several
 * processes on one machine may share it safely. Writes made in one turn of the event loop share
 * one transaction and one commit (group commit), and each is answered once that commit is done.
 * For a fleet on several machines use Redis or PostgreSQL.
 *
 * @example
 * ```ts
 * import { idempotency } from 'oncely/server';
 * import { sqliteStore } from 'oncely/server/sqlite';
 *
 * const guarded = idempotency({ store: sqliteStore('./data/idempotency.db') })(handler);
 * ```
 */
export function sqliteStore(pathOrOptions: string | SqliteStoreOptions = {}): SqliteStore {
  const options = typeof pathOrOptions === 'string' ? { path: pathOrOptions } : pathOrOptions;
  const path = options.path ?? ':memory:';
  // Unqualified: SQLite's CREATE INDEX takes the schema on the index name, not the table's.
  const table = quoteTable(options.table ?? DEFAULT_TABLE, false);
  const now = options.now ?? Date.now;

  const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { timeout: busyTimeoutMs });
    // The `timeout` option came in Node 22.16 (this store supports 22.13) and is ignored before:
    // without the pragma, a BEGIN IMMEDIATE facing another process's lock failed at once.
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs) || 0)}`);
    // WAL lets readers run beside the one writer, across processes; `:memory:` stays in memory.
    // Switching a new file to WAL fails at once with SQLITE_BUSY while a sibling process opens
    // it in the same instant (SQLite calls no busy handler there), so that is retried here.
    retryBusy(db, 'PRAGMA journal_mode = WAL', busyTimeoutMs);
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
      id TEXT PRIMARY KEY NOT NULL,
      state TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      owner TEXT,
      lease_until INTEGER,
      expires_at INTEGER NOT NULL,
      status INTEGER,
      headers TEXT,
      body BLOB,
      completed_at INTEGER
    )`);
    db.exec(
      `CREATE INDEX IF NOT EXISTS ${indexName(options.table ?? DEFAULT_TABLE, 'expires_at')} ON ${table} (expires_at)`,
    );
  } catch (error) {
    try {
      db?.close();
    } catch {}
    throw new StoreError('open', `cannot open SQLite database ${JSON.stringify(path)}`, {
      cause: error,
    });
  }

  const columns = COLUMNS.join(', ');
  const held = `id = ? AND state = 'in-flight' AND owner = ? AND expires_at > ?`;
  const statements = {
    // Inserts, or replaces a row that has expired: a lapsed record is as good as absent.
    upsert: `INSERT INTO ${table} (${columns}) VALUES (${COLUMNS.map(() => '?').join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${COLUMNS.slice(1)
        .map((column) => `${column} = excluded.${column}`)
        .join(', ')}
      WHERE ${table}.expires_at <= ?`,
    get: `SELECT ${columns} FROM ${table} WHERE id = ? AND expires_at > ?`,
    takeOver: `UPDATE ${table} SET fingerprint = ?, owner = ?, lease_until = ?, expires_at = ?
      WHERE ${held} AND lease_until = ?`,
    // expires_at moves with the lease when the lease outruns it: a held record never expires.
    renew: `UPDATE ${table} SET lease_until = ?, expires_at = max(expires_at, ?) WHERE ${held}`,
    complete: `UPDATE ${table} SET state = 'completed', fingerprint = ?, owner = NULL,
      lease_until = NULL, expires_at = ?, status = ?, headers = ?, body = ?, completed_at = ?
      WHERE ${held}`,
    release: `DELETE FROM ${table} WHERE ${held}`,
    sweep: `DELETE FROM ${table} WHERE expires_at <= ?`,
  };
  const prepared = new Map<keyof typeof statements, StatementSync>();
  const statement = (name: keyof typeof statements): StatementSync => {
    let found = prepared.get(name);
    if (found === undefined) {
      found = db.prepare(statements[name]);
      prepared.set(name, found);
    }
    return found;
  };
  const changed = (name: keyof typeof statements, ...params: SQLInputValue[]): boolean =>
    Number(statement(name).run(...params).changes) > 0;

  // Group commit: a write waits for the end of the event loop's current phase, and every write
  // queued by then runs in one `BEGIN IMMEDIATE` transaction with one commit. With
  // `synchronous: 'full'` each commit is an fsync, and a claim and a completion per request made
  // two: under concurrency the disk, not the CPU, set the pace (about 900 new keys/s here). The
  // lock is held only while the queue runs, never across a turn, so other connections (in this
  // process or another) are never left waiting on a transaction that cannot end.
  let queue: Queued[] = [];
  let closed = false;
  // `isTransaction` came in Node 22.16 (this store supports 22.13): without it, BEGIN tells,
  // failing inside a transaction and otherwise opening one, ended at once.
  const inTransaction = (): boolean => {
    const known = db.isTransaction as boolean | undefined;
    if (known !== undefined) return known;
    try {
      db.exec('BEGIN');
    } catch {
      return true;
    }
    db.exec('ROLLBACK');
    return false;
  };
  const flush = (): void => {
    if (queue.length === 0) return;
    const batch = queue.length <= MAX_BATCH ? queue : queue.slice(0, MAX_BATCH);
    queue = queue.length <= MAX_BATCH ? [] : queue.slice(MAX_BATCH);
    // A queue that is not empty always has a flush coming (write() schedules the first).
    if (queue.length > 0) setImmediate(flush);
    const results: unknown[] = [];
    // Runs in a setImmediate callback: nothing may escape it (an uncaught exception ends the
    // process), and every caller of the batch must be answered.
    try {
      try {
        db.exec('BEGIN IMMEDIATE');
      } catch (error) {
        // The transaction of an earlier batch whose ROLLBACK failed: end it, and begin again.
        if (!inTransaction()) throw error;
        db.exec('ROLLBACK');
        db.exec('BEGIN IMMEDIATE');
      }
      for (let i = 0; i < batch.length; i++) {
        try {
          results[i] = (batch[i] as Queued).work();
        } catch (error) {
          // A statement's own failure undoes that statement only; one that ends the transaction
          // (a full disk, an I/O error) undoes every write before it in the batch too.
          if (!inTransaction()) throw error;
          results[i] = FAILED;
          (batch[i] as Queued).fail(error);
        }
      }
      db.exec('COMMIT');
    } catch (error) {
      // BEGIN, the transaction or its COMMIT failed: none of the batch is kept. A ROLLBACK that
      // fails too leaves the transaction open, for the next batch to end.
      try {
        if (inTransaction()) db.exec('ROLLBACK');
      } catch {}
      for (let i = 0; i < batch.length; i++) if (results[i] !== FAILED) batch[i]?.fail(error);
      return;
    }
    // Answered only now: a caller acts on a write (runs the handler, sends the response) once it
    // is on disk.
    for (let i = 0; i < batch.length; i++) if (results[i] !== FAILED) batch[i]?.done(results[i]);
  };
  const write = <T>(operation: string, work: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({
        work,
        done: resolve as (value: unknown) => void,
        fail: (error) => reject(toStoreError(operation, error)),
      });
    });
  const run = <T>(operation: string, body: () => T): Promise<T> => {
    try {
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(toStoreError(operation, error));
    }
  };

  const sweep = (): number => Number(statement('sweep').run(now()).changes);
  const interval = options.sweepIntervalMs ?? 60_000;
  const timer =
    interval > 0
      ? setInterval(() => {
          // Best effort: a busy or closed database is swept next time, or on claim.
          try {
            sweep();
          } catch {}
        }, interval)
      : undefined;
  timer?.unref();

  return {
    claim: (id, record) =>
      // In the batch's IMMEDIATE transaction: the read sees what the insert saw, even with
      // another process on the same file.
      write('claim', () => {
        const time = now();
        const created = changed('upsert', ...recordParams(id, record), time);
        const row = created ? undefined : statement('get').get(id, time);
        return row === undefined ? undefined : recordFromRow(row as unknown as RecordRow, 'claim');
      }),
    takeOver: (id, expected, record) =>
      write('takeOver', () =>
        changed(
          'takeOver',
          record.fingerprint,
          record.owner,
          record.leaseUntil,
          record.expiresAt,
          id,
          expected.owner,
          now(),
          expected.leaseUntil,
        ),
      ),
    renew: (id, owner, leaseUntil) =>
      write('renew', () => changed('renew', leaseUntil, leaseUntil, id, owner, now())),
    complete: (id, owner, record) =>
      write('complete', () => {
        const { status, headers, body } = record.response;
        return changed(
          'complete',
          record.fingerprint,
          record.expiresAt,
          status,
          JSON.stringify(headers),
          body,
          record.completedAt,
          id,
          owner,
          now(),
        );
      }),
    release: (id, owner) => write('release', () => changed('release', id, owner, now())),
    // Reads what is committed, at once: a write still queued has not been answered either.
    get: (id) =>
      run('get', () => {
        const row = statement('get').get(id, now());
        return row === undefined ? undefined : recordFromRow(row as unknown as RecordRow, 'get');
      }),
    sweep: () => run('sweep', sweep),
    close: () =>
      run('close', () => {
        clearInterval(timer);
        // Writes still queued run first: their callers are waiting for them. (`isOpen` came in
        // Node 22.15: the store keeps its own flag.)
        if (closed) return;
        while (queue.length > 0) flush();
        closed = true;
        db.close();
      }),
  };
}

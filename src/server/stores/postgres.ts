import type { Pool, PoolClient } from 'pg';
import {
  COLUMNS,
  DEFAULT_TABLE,
  indexName,
  quoteTable,
  type RecordRow,
  recordFromRow,
  recordParams,
} from './sql-record.ts';
import type {
  CompletedRecord,
  InFlightRecord,
  TransactionalStore,
  TransactOutcome,
} from './store.ts';
import { StoreError } from './store-error.ts';
import { toStoreError } from './to-store-error.ts';

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /**
   * Table holding the records: a plain identifier, optionally schema-qualified (`app.idempotency`).
   * @default 'oncely_records'
   */
  table?: string;
  /**
   * Create the table and its index on first use (`CREATE TABLE IF NOT EXISTS`, serialized across
   * processes by an advisory lock). Turn off when migrations are run by other means: see
   * {@link PostgresStore.migrate}.
   * @default true
   */
  createTable?: boolean;
  /**
   * How often expired rows are deleted, in ms; the timer does not keep the process alive. `0`
   * disables it (expired rows are still ignored and replaced on claim; call
   * {@link PostgresStore.sweep} from a cron job instead).
   * @default 60_000
   */
  sweepIntervalMs?: number;
  /**
   * Most rows one sweep statement deletes, so a large backlog never holds locks for long.
   * @default 1_000
   */
  sweepBatchSize?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** A {@link TransactionalStore} on PostgreSQL; `transact` hands the work the transaction's client. */
export interface PostgresStore extends TransactionalStore<PoolClient> {
  /** Creates the table and its index if missing; safe to run from several processes at once. */
  migrate(): Promise<void>;
  /** Deletes expired rows now, in batches. @returns how many were deleted. */
  sweep(): Promise<number>;
  /** Stops the sweep timer. The pool belongs to the caller, who ends it. */
  close(): Promise<void>;
}

// A claim that finds a row inserted by a transaction that committed after this statement's
// snapshot cannot read that row in the same statement; the next statement can.
const MAX_CLAIM_ATTEMPTS = 5;

/**
 * True for SQLSTATE 40001. Under REPEATABLE READ or SERIALIZABLE (a database or role whose
 * `default_transaction_isolation` says so) a statement that meets a row another transaction
 * changed after its snapshot fails so, where READ COMMITTED would wait and read the row again. A
 * primitive has done nothing yet when it fails so: it runs again with a fresh snapshot.
 */
const isSerializationFailure = (error: unknown): boolean =>
  (error as { code?: unknown } | null)?.code === '40001';

/**
 * A store on PostgreSQL for a fleet of server processes, with a transactional mode: through
 * `transact`, the claim, the handler's own writes and the stored response commit together or not
 * at all. Claims are one statement (one round trip); updates are compare-and-set on the owner.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { idempotency } from 'oncely/server';
 * import { postgresStore } from 'oncely/server/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5_000 });
 * const guarded = idempotency({ store: postgresStore(pool) })(handler);
 * ```
 */
export function postgresStore(pool: Pool, options: PostgresStoreOptions = {}): PostgresStore {
  const tableName = options.table ?? DEFAULT_TABLE;
  const table = quoteTable(tableName, true);
  // Epoch ms live in BIGINT columns, but a time may be fractional (a leaseMs of 10_000 / 3): the
  // times a record is given are rounded up, so it lapses no earlier than it was told, and the
  // clock is read rounded down, so no record is judged lapsed before its time.
  const clock = options.now ?? Date.now;
  const now = () => Math.floor(clock());
  const batch = options.sweepBatchSize ?? 1_000;

  const columns = COLUMNS.join(', ');
  const values = COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
  const next = `$${COLUMNS.length + 1}`;
  // Inserts, or replaces a row that has expired: a lapsed record is as good as absent.
  const upsert = `INSERT INTO ${table} AS r (${columns}) VALUES (${values})
    ON CONFLICT (id) DO UPDATE SET ${COLUMNS.slice(1)
      .map((column) => `${column} = excluded.${column}`)
      .join(', ')}
    WHERE r.expires_at <= ${next}`;
  const held = `id = $1 AND state = 'in-flight' AND owner = $2 AND expires_at > $3`;
  const sql = {
    // One round trip: the upsert, and the live row when the upsert left it alone.
    claim: `WITH claimed AS (${upsert} RETURNING 1)
      SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, r.*
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN ${table} AS r ON r.id = $1 AND r.expires_at > ${next}`,
    transactClaim: `${upsert} RETURNING 1`,
    get: `SELECT ${columns} FROM ${table} WHERE id = $1 AND expires_at > $2`,
    takeOver: `UPDATE ${table} SET fingerprint = $5, owner = $6, lease_until = $7, expires_at = $8
      WHERE ${held} AND lease_until = $4`,
    // expires_at moves with the lease when the lease outruns it: a held record never expires.
    renew: `UPDATE ${table} SET lease_until = $4, expires_at = GREATEST(expires_at, $4)
      WHERE ${held}`,
    complete: `UPDATE ${table} SET state = 'completed', owner = NULL, lease_until = NULL,
      fingerprint = $4, expires_at = $5, status = $6, headers = $7, body = $8, completed_at = $9
      WHERE ${held}`,
    release: `DELETE FROM ${table} WHERE ${held}`,
    // The outer expires_at test is re-checked on a row updated concurrently, so a sweep never
    // deletes a record that was claimed again after the subquery found it expired.
    sweep: `DELETE FROM ${table} WHERE expires_at <= $1
      AND id IN (SELECT id FROM ${table} WHERE expires_at <= $1 LIMIT $2)`,
    // Several statements in one simple query run as one implicit transaction: an error rolls
    // it all back and leaves the connection clean; the advisory lock lasts until its end.
    migrate: `SELECT pg_advisory_xact_lock(hashtext('oncely:' || '${tableName}'));
      CREATE TABLE IF NOT EXISTS ${table} (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        owner TEXT,
        lease_until BIGINT,
        expires_at BIGINT NOT NULL,
        status INTEGER,
        headers JSONB,
        body BYTEA,
        completed_at BIGINT
      );
      CREATE INDEX IF NOT EXISTS ${indexName(tableName, 'expires_at')} ON ${table} (expires_at);`,
  };

  // The index lives in the table's schema; qualified the same way, to_regclass finds it there.
  const schema = tableName.includes('.') ? `${table.slice(0, table.indexOf('.'))}.` : '';
  const index = `${schema}${indexName(tableName, 'expires_at')}`;
  let ready: Promise<void> | undefined;
  const migrate = (): Promise<void> => {
    ready ??= (async () => {
      // CREATE … IF NOT EXISTS checks the CREATE privilege on the schema before it looks for the
      // table: an application role granted only SELECT, INSERT, UPDATE and DELETE on a table made
      // by the migrations would fail every call. So it runs only when something is missing.
      const { rows } = await pool.query(
        'SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS present',
        [table, index],
      );
      if (rows[0]?.present === true) return;
      // Simple-query protocol: the statements run on one connection, in one round trip.
      await pool.query(sql.migrate);
    })().then(
      () => undefined,
      (error: unknown) => {
        ready = undefined;
        throw error;
      },
    );
    return ready;
  };

  const query = async (operation: string, text: string, params: unknown[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        if (options.createTable !== false) await migrate();
        return await pool.query(text, params);
      } catch (error) {
        // One statement, in a transaction of its own that has rolled back: safe to run again.
        if (attempt < MAX_CLAIM_ATTEMPTS && isSerializationFailure(error)) continue;
        throw toStoreError(operation, error);
      }
    }
  };
  const changed = async (operation: string, text: string, params: unknown[]) =>
    ((await query(operation, text, params)).rowCount ?? 0) > 0;

  // `time`: the moment the record must still be live at (now, outside transact).
  const completeParams = (id: string, owner: string, record: CompletedRecord, time = now()) => {
    const { status, headers, body } = record.response;
    return [
      id,
      owner,
      time,
      record.fingerprint,
      Math.ceil(record.expiresAt),
      status,
      JSON.stringify(headers),
      body,
      Math.ceil(record.completedAt),
    ];
  };
  const rowParams = (id: string, record: InFlightRecord) =>
    recordParams(id, {
      ...record,
      leaseUntil: Math.ceil(record.leaseUntil),
      expiresAt: Math.ceil(record.expiresAt),
    });

  const sweep = async (): Promise<number> => {
    let deleted = 0;
    for (;;) {
      const result = await query('sweep', sql.sweep, [now(), batch]);
      deleted += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < batch) return deleted;
    }
  };
  const interval = options.sweepIntervalMs ?? 60_000;
  const timer =
    interval > 0
      ? setInterval(() => {
          // Best effort: a sweep that fails while the database is away runs again next time.
          sweep().catch(() => {});
        }, interval)
      : undefined;
  timer?.unref();

  return {
    async claim(id, record) {
      for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
        const time = now();
        const { rows } = await query('claim', sql.claim, [...rowParams(id, record), time]);
        const row = rows[0] as (RecordRow & { claimed: boolean }) | undefined;
        if (row?.claimed) return undefined;
        if (row?.state != null) return recordFromRow(row, 'claim');
      }
      throw new StoreError(
        'claim',
        `no stable row for the id after ${MAX_CLAIM_ATTEMPTS} attempts`,
      );
    },
    takeOver: (id, expected, record) =>
      changed('takeOver', sql.takeOver, [
        id,
        expected.owner,
        now(),
        Math.ceil(expected.leaseUntil),
        record.fingerprint,
        record.owner,
        Math.ceil(record.leaseUntil),
        Math.ceil(record.expiresAt),
      ]),
    renew: (id, owner, leaseUntil) =>
      changed('renew', sql.renew, [id, owner, now(), Math.ceil(leaseUntil)]),
    complete: (id, owner, record) =>
      changed('complete', sql.complete, completeParams(id, owner, record)),
    release: (id, owner) => changed('release', sql.release, [id, owner, now()]),
    async get(id) {
      const { rows } = await query('get', sql.get, [id, now()]);
      return rows[0] === undefined ? undefined : recordFromRow(rows[0] as RecordRow, 'get');
    },

    async transact(id, record, work): Promise<TransactOutcome> {
      let client: PoolClient;
      try {
        if (options.createTable !== false) await migrate();
        client = await pool.connect();
      } catch (error) {
        throw toStoreError('transact', error);
      }
      // A connection left mid-transaction must not go back to the pool.
      let broken: Error | undefined;
      // A checked-out client that loses its connection between queries emits 'error'; unheard,
      // that would crash the process. The next query fails anyway and the client is discarded.
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('error', onError);
      const step = async (text: string, params?: unknown[]) => {
        try {
          return await client.query(text, params);
        } catch (error) {
          broken = error as Error;
          await client.query('ROLLBACK').then(
            () => {
              broken = undefined;
            },
            () => {},
          );
          throw toStoreError('transact', error);
        }
      };
      try {
        for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
          await step('BEGIN');
          // A concurrent transaction holding the same id makes this insert wait on the unique
          // index until it commits or rolls back.
          const time = now();
          let claimed: Awaited<ReturnType<typeof step>>;
          try {
            claimed = await step(sql.transactClaim, [...rowParams(id, record), time]);
          } catch (error) {
            // Waited on a transaction that held the id and then committed: outside READ
            // COMMITTED this one's snapshot cannot see its row. step rolled back; a new
            // transaction sees it (and answers existing), before any work ran.
            const retry =
              broken === undefined &&
              attempt < MAX_CLAIM_ATTEMPTS - 1 &&
              isSerializationFailure((error as StoreError).cause);
            if (retry) continue;
            throw error;
          }
          if (claimed.rowCount === 0) {
            const existing = await step(sql.get, [id, time]);
            await step('ROLLBACK');
            const row = existing.rows[0] as RecordRow | undefined;
            if (row !== undefined)
              return { outcome: 'existing', record: recordFromRow(row, 'transact') };
            continue; // released or expired in between: claim again
          }

          let result: CompletedRecord | undefined;
          try {
            result = await work(client);
          } catch (error) {
            await client.query('ROLLBACK').catch((rollbackError: unknown) => {
              broken = rollbackError as Error;
            });
            throw error;
          }
          if (result === undefined) {
            await step('ROLLBACK');
            return { outcome: 'rolled-back' };
          }
          // Checked against the claim's time, not now: the row is ours until this transaction
          // ends (no one else can see or take it), however long the work ran past its expiresAt.
          const done = await step(sql.complete, completeParams(id, record.owner, result, time));
          if (done.rowCount !== 1) {
            await step('ROLLBACK');
            throw new StoreError('transact', 'the claimed row changed inside its own transaction');
          }
          await step('COMMIT');
          return { outcome: 'completed' };
        }
        throw new StoreError(
          'transact',
          `no stable row for the id after ${MAX_CLAIM_ATTEMPTS} attempts`,
        );
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },

    async migrate() {
      try {
        await migrate();
      } catch (error) {
        throw toStoreError('migrate', error);
      }
    },
    sweep,
    async close() {
      clearInterval(timer);
    },
  };
}

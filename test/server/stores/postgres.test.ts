import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../../../src/server/stores/postgres.ts';
import type { CompletedRecord } from '../../../src/server/stores/store.ts';
import { StoreError } from '../../../src/server/stores/store-error.ts';
import { service } from '../../support/services.ts';
import { completed, failureOf, inFlight, testStore } from './contract.ts';

const url = service('postgres');

describe.skipIf(!url)('postgresStore', () => {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const run = randomBytes(4).toString('hex');
  const table = `oncely_test_${run}`;
  const charges = `charges_${run}`;
  const store = postgresStore(pool, { table, sweepIntervalMs: 0 });

  beforeAll(async () => {
    await pool.query(`CREATE TABLE ${charges} (key TEXT NOT NULL, amount INTEGER NOT NULL)`);
  });

  afterAll(async () => {
    await store.close();
    await pool.query(`DROP TABLE IF EXISTS ${table}, ${table}_other, ${charges}`);
    await pool.end();
  });

  testStore('postgres', () => postgresStore(pool, { table }));

  it('creates the documented table and index on first use', async () => {
    const own = postgresStore(pool, { table: `${table}_other` });
    expect(await own.get('nothing')).toBeUndefined();
    const { rows } = await pool.query(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_name = $1 ORDER BY ordinal_position`,
      [`${table}_other`],
    );
    expect(rows.map((row) => `${row.column_name} ${row.data_type}`)).toEqual([
      'id text',
      'state text',
      'fingerprint text',
      'owner text',
      'lease_until bigint',
      'expires_at bigint',
      'status integer',
      'headers jsonb',
      'body bytea',
      'completed_at bigint',
    ]);
    const indexes = await pool.query('SELECT indexname FROM pg_indexes WHERE tablename = $1', [
      `${table}_other`,
    ]);
    expect(indexes.rows.map((row) => row.indexname)).toContain(`${table}_other_expires_at`);
    await own.migrate();
    await own.close();
  });

  it('sweeps expired rows in batches and keeps live ones', async () => {
    let time = 2_000_000_000_000;
    const own = postgresStore(pool, {
      table,
      now: () => time,
      sweepIntervalMs: 0,
      sweepBatchSize: 2,
    });
    const ids = Array.from({ length: 5 }, () => `sweep:${randomUUID()}`);
    for (const id of ids) await own.claim(id, inFlight({ expiresAt: time + 10 }));
    await own.claim(`sweep:live:${run}`, inFlight({ expiresAt: time + 1_000_000 }));
    time += 100;
    expect(await own.sweep()).toBeGreaterThanOrEqual(5);
    const left = await pool.query(`SELECT id FROM ${table} WHERE id = ANY($1)`, [ids]);
    expect(left.rowCount).toBe(0);
    expect(await own.get(`sweep:live:${run}`)).toBeDefined();
  });

  it('uses a schema-qualified table, and fails cleanly while the schema is missing', async () => {
    const schema = `oncely_schema_${run}`;
    const own = postgresStore(pool, { table: `${schema}.records`, sweepIntervalMs: 0 });
    const error = await failureOf(() => own.claim('a', inFlight()));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).operation).toBe('claim');

    await pool.query(`CREATE SCHEMA ${schema}`);
    try {
      const record = inFlight();
      expect(await own.claim('a', record)).toBeUndefined();
      expect(await own.get('a')).toEqual(record);
      const { rows } = await pool.query(`SELECT count(*) FROM ${schema}.records`);
      expect(Number(rows[0].count)).toBe(1);
    } finally {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('works for a role granted only SELECT, INSERT, UPDATE and DELETE on a migrated table', async () => {
    // The usual least-privilege setup: migrations create the table, the application's role may
    // only read and write rows (no CREATE on the schema, as in PostgreSQL 15's public schema).
    const role = `oncely_app_${run}`;
    const own = `${table}_granted`;
    await postgresStore(pool, { table: own, sweepIntervalMs: 0 }).migrate();
    await pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    await pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${own} TO ${role}`);
    const { rows } = await pool.query(`SELECT has_schema_privilege($1, 'public', 'CREATE') AS c`, [
      role,
    ]);
    expect(rows[0].c).toBe(false);
    const appUrl = new URL(url as string);
    appUrl.username = role;
    appUrl.password = 'app';
    const app = new pg.Pool({ connectionString: appUrl.toString(), max: 2 });
    try {
      const store = postgresStore(app, { table: own, sweepIntervalMs: 0 });
      const record = inFlight();
      expect(await store.claim('a', record)).toBeUndefined();
      expect(await store.get('a')).toEqual(record);
      expect(await store.complete('a', record.owner, completed())).toBe(true);
      await store.migrate();
    } finally {
      await app.end();
      await pool.query(`DROP TABLE ${own}`);
      await pool.query(`DROP ROLE ${role}`);
    }
  });

  it('refuses a table name that is not a plain identifier', () => {
    expect(() => postgresStore(pool, { table: 'x"; DROP TABLE y; --' })).toThrow(TypeError);
    expect(() => postgresStore(pool, { table: 'a.b.c' })).toThrow(TypeError);
  });

  it('turns an unreachable database into a StoreError naming the operation', async () => {
    const down = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 500 });
    const unreachable = postgresStore(down, { sweepIntervalMs: 0 });
    for (const [operation, call] of [
      ['claim', () => unreachable.claim('x', inFlight())],
      ['get', () => unreachable.get('x')],
      ['transact', () => unreachable.transact('x', inFlight(), async () => undefined)],
      ['migrate', () => unreachable.migrate()],
    ] as const) {
      const error = await failureOf(call);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).operation).toBe(operation);
      expect((error as StoreError).cause).toBeInstanceOf(Error);
    }
    await down.end();
  });

  // A database or role may set default_transaction_isolation above READ COMMITTED; a statement
  // that meets a row changed after its snapshot then fails with SQLSTATE 40001 instead of
  // waiting and reading it again.
  for (const level of ['serializable', 'repeatable read']) {
    describe(`under default_transaction_isolation = ${level}`, () => {
      const strict = new pg.Pool({
        connectionString: url,
        max: 10,
        options: `-c default_transaction_isolation=${level.replace(' ', '\\ ')}`,
      });
      const own = `${table}_${level.replace(' ', '_')}`;

      afterAll(async () => {
        await strict.query(`DROP TABLE IF EXISTS ${own}`);
        await strict.end();
      });

      it('runs at that level', async () => {
        const { rows } = await strict.query('SHOW transaction_isolation');
        expect(rows[0].transaction_isolation).toBe(level);
      });

      testStore(`postgres (${level})`, () => postgresStore(strict, { table: own }));

      it('answers duplicates of a transact with existing, not a StoreError', async () => {
        const store = postgresStore(strict, { table: own, sweepIntervalMs: 0 });
        const id = `tx:${randomUUID()}`;
        let runs = 0;
        const outcomes = await Promise.allSettled(
          Array.from({ length: 5 }, () =>
            store.transact(id, inFlight(), async () => {
              runs++;
              await sleep(100);
              return completed();
            }),
          ),
        );
        expect(runs).toBe(1);
        const answers = outcomes.map((outcome) =>
          outcome.status === 'fulfilled' ? outcome.value.outcome : String(outcome.reason),
        );
        expect(answers.sort()).toEqual([
          'completed',
          'existing',
          'existing',
          'existing',
          'existing',
        ]);
        await store.close();
      });
    });
  }

  describe('transact', () => {
    const charged = async (key: string): Promise<number> =>
      Number(
        (await pool.query(`SELECT count(*) FROM ${charges} WHERE key = $1`, [key])).rows[0].count,
      );
    const charge =
      (key: string) =>
      async (tx: pg.PoolClient): Promise<CompletedRecord> => {
        await tx.query(`INSERT INTO ${charges} (key, amount) VALUES ($1, 100)`, [key]);
        return completed();
      };

    it('commits the handler writes and the stored response together', async () => {
      const id = `tx:${randomUUID()}`;
      expect(await store.transact(id, inFlight(), charge(id))).toEqual({ outcome: 'completed' });
      expect(await charged(id)).toBe(1);
      expect((await store.get(id))?.state).toBe('completed');
    });

    it('rolls both back when the work returns nothing', async () => {
      const id = `tx:${randomUUID()}`;
      const outcome = await store.transact(id, inFlight(), async (tx) => {
        await charge(id)(tx);
        return undefined;
      });
      expect(outcome).toEqual({ outcome: 'rolled-back' });
      expect(await charged(id)).toBe(0);
      expect(await store.get(id)).toBeUndefined();
      expect(await store.claim(id, inFlight())).toBeUndefined();
    });

    it('rolls both back and rethrows when the handler crashes after writing', async () => {
      const id = `tx:${randomUUID()}`;
      const crash = new Error('crashed after the charge');
      const error = await store
        .transact(id, inFlight(), async (tx) => {
          await charge(id)(tx);
          throw crash;
        })
        .catch((caught: unknown) => caught);
      expect(error).toBe(crash);
      expect(await charged(id)).toBe(0);
      expect(await store.get(id)).toBeUndefined();
    });

    it('rolls both back when the connection dies mid-handler', async () => {
      const id = `tx:${randomUUID()}`;
      const error = await store
        .transact(id, inFlight(), async (tx) => {
          await charge(id)(tx);
          const { rows } = await tx.query('SELECT pg_backend_pid() AS pid');
          await pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
          return charge(id)(tx);
        })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Error);
      expect(await charged(id)).toBe(0);
      expect(await store.get(id)).toBeUndefined();
    });

    it('runs the work once for two concurrent transacts on one id', async () => {
      const id = `tx:${randomUUID()}`;
      let runs = 0;
      const work = async (tx: pg.PoolClient) => {
        runs++;
        await sleep(100);
        return charge(id)(tx);
      };
      const outcomes = await Promise.all([
        store.transact(id, inFlight(), work),
        store.transact(id, inFlight(), work),
      ]);
      expect(runs).toBe(1);
      expect(outcomes.map((outcome) => outcome.outcome).sort()).toEqual(['completed', 'existing']);
      const existing = outcomes.find((outcome) => outcome.outcome === 'existing');
      expect(existing?.outcome === 'existing' && existing.record.state).toBe('completed');
      expect(await charged(id)).toBe(1);
    });

    it('makes a plain claim wait for the transaction and see its outcome', async () => {
      const id = `tx:${randomUUID()}`;
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const transaction = store.transact(id, inFlight(), async (tx) => {
        entered();
        await sleep(150);
        return charge(id)(tx);
      });
      await inside;
      const claim = await store.claim(id, inFlight());
      expect(await transaction).toEqual({ outcome: 'completed' });
      expect(claim?.state).toBe('completed');
    });

    it('answers existing for a key claimed outside a transaction, without running the work', async () => {
      const id = `tx:${randomUUID()}`;
      const first = inFlight();
      await store.claim(id, first);
      let ran = false;
      const outcome = await store.transact(id, inFlight(), async () => {
        ran = true;
        return completed();
      });
      expect(outcome).toEqual({ outcome: 'existing', record: first });
      expect(ran).toBe(false);
    });

    it('commits work that ran past the expiresAt of its claim, since the transaction holds the row', async () => {
      const id = `tx:${randomUUID()}`;
      const record = inFlight({ leaseUntil: Date.now() + 50, expiresAt: Date.now() + 100 });
      const outcome = await store.transact(id, record, async (tx) => {
        await sleep(250);
        return charge(id)(tx);
      });
      expect(outcome).toEqual({ outcome: 'completed' });
      expect(await charged(id)).toBe(1);
      expect((await store.get(id))?.state).toBe('completed');
    });

    it('claims over an expired record', async () => {
      const id = `tx:${randomUUID()}`;
      await store.claim(id, inFlight({ expiresAt: Date.now() - 1 }));
      expect(await store.transact(id, inFlight(), charge(id))).toEqual({ outcome: 'completed' });
    });

    it('commits nothing when the handler left its transaction failed', async () => {
      const id = `tx:${randomUUID()}`;
      const error = await store
        .transact(id, inFlight(), async (tx) => {
          await charge(id)(tx);
          await tx.query('SELECT 1/0').catch(() => {});
          return completed();
        })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).operation).toBe('transact');
      expect(await charged(id)).toBe(0);
      expect(await store.get(id)).toBeUndefined();
    });

    it('returns every connection to the pool', async () => {
      await sleep(20);
      expect(pool.waitingCount).toBe(0);
      expect(pool.idleCount).toBe(pool.totalCount);
    });
  });
});

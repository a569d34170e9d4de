/**
 * One server process of a fleet test: POST /charge behind `idempotency()`, on a store shared with
 * its sibling process. The handler counts its runs in the store's own database and takes ~50 ms.
 * Run with Node 24 (type stripping): `node test/server/fleet/server.ts`, configured by
 *   FLEET_STORE      redis | postgres | postgres-tx | sqlite
 *   FLEET_TARGET     the Redis or PostgreSQL URL, or the SQLite file
 *   FLEET_NAMESPACE  Redis key prefix, or PostgreSQL / SQLite table prefix (letters, digits, _)
 * It prints `{"port":N}` once listening and exits on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve } from '@hono/node-server';
import { idempotency, type Store } from '../../../src/server/index.ts';

// Each store's driver is imported only when used: process start-up is most of a fleet test.
const kind = process.env.FLEET_STORE;
const target = process.env.FLEET_TARGET ?? '';
const namespace = process.env.FLEET_NAMESPACE ?? 'fleet';
if (!/^[A-Za-z0-9_]+$/.test(namespace)) throw new Error(`bad FLEET_NAMESPACE ${namespace}`);

let store: Store;
/** Records one run of the handler for `key`, through the transaction when there is one. */
let count: (key: string, tx: unknown) => Promise<void>;
const cleanups: (() => unknown)[] = [];

if (kind === 'redis') {
  const { createClient } = await import('redis');
  const { redisStore } = await import('../../../src/server/stores/redis.ts');
  const client = await createClient({ url: target }).connect();
  cleanups.push(() => client.close());
  store = redisStore(client, { prefix: `${namespace}:` });
  count = async (key) => {
    await client.incr(`${namespace}:runs:${key}`);
  };
} else if (kind === 'postgres' || kind === 'postgres-tx') {
  const { default: pg } = await import('pg');
  const { postgresStore } = await import('../../../src/server/stores/postgres.ts');
  const pool = new pg.Pool({ connectionString: target, max: 20 });
  cleanups.push(() => pool.end());
  store = postgresStore(pool, { table: `${namespace}_records` });
  const insert = `INSERT INTO ${namespace}_runs (key, pid) VALUES ($1, $2)`;
  count = async (key, tx) => {
    await ((tx as typeof pool | undefined) ?? pool).query(insert, [key, process.pid]);
  };
} else if (kind === 'sqlite') {
  const { DatabaseSync } = await import('node:sqlite');
  const { sqliteStore } = await import('../../../src/server/stores/sqlite.ts');
  store = sqliteStore(target);
  const db = new DatabaseSync(target, { timeout: 5_000 });
  cleanups.push(() => db.close());
  const insert = db.prepare(`INSERT INTO ${namespace}_runs (key, pid) VALUES (?, ?)`);
  count = async (key) => {
    insert.run(key, process.pid);
  };
} else {
  throw new Error(`unknown FLEET_STORE ${kind}`);
}

const guarded = idempotency({
  store,
  scope: () => 'fleet',
  transactional: kind === 'postgres-tx',
})(async (request, { key, tx }) => {
  await count(String(key), tx);
  await sleep(50);
  const { amount } = (await request.json()) as { amount: number };
  // A random id: a replay that re-ran the handler would show a different body.
  return Response.json({ charge: `ch_${randomUUID()}`, amount, pid: process.pid }, { status: 201 });
});

const server = serve({ fetch: guarded, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
});

process.on('SIGTERM', () => {
  server.close();
  void Promise.all(cleanups.map((cleanup) => cleanup())).finally(() => process.exit(0));
});

/**
 * oncely's stores for the benchmark child, each with what it needs torn down after the run: the
 * Redis keys under a prefix of their own, the PostgreSQL table of the run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';
import { memoryStore, type Store } from '../../src/server/index.ts';
import { postgresStore } from '../../src/server/stores/postgres.ts';
import { redisStore } from '../../src/server/stores/redis.ts';
import { sqliteStore } from '../../src/server/stores/sqlite.ts';
import type { ServerConfig } from './server-config.ts';

export interface BenchStore {
  store: Store;
  close(): Promise<void>;
}

export async function benchStore(config: ServerConfig): Promise<BenchStore> {
  const run = `bench_${randomBytes(4).toString('hex')}`;
  switch (config.store ?? 'memory') {
    case 'memory': {
      // Large enough that a few seconds of new keys never evict: the figure is the helper's cost.
      const store = memoryStore({ maxRecords: 1_000_000 });
      return { store, close: () => store.close?.() ?? Promise.resolve() };
    }
    case 'sqlite': {
      const store = sqliteStore({
        path: required(config.target, 'sqlite file'),
        synchronous: config.synchronous,
      });
      return { store, close: () => store.close() };
    }
    case 'redis': {
      const client = await createClient({ url: required(config.target, 'Redis URL') }).connect();
      const prefix = `${run}:`;
      const store = redisStore(client, { prefix });
      return {
        store,
        close: async () => {
          for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
            if (keys.length > 0) await client.unlink(keys);
          }
          client.destroy();
        },
      };
    }
    case 'postgres': {
      const pool = new pg.Pool({ connectionString: required(config.target, 'PostgreSQL URL') });
      const store = postgresStore(pool, { table: run });
      await store.migrate();
      return {
        store,
        close: async () => {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS ${run}`);
          await pool.end();
        },
      };
    }
  }
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new Error(`bench server: missing ${what}`);
  return value;
}

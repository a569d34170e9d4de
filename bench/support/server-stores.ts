/**
 * oncely's stores for the benchmark child, each with what it needs torn down after the run: the
 * Redis keys under a prefix of their own, the PostgreSQL table of the run.
 */
import { randomBytes } from 'node:crypto';
import { memoryStore, type Store } from '../../src/server/index.ts';
import type { ServerConfig } from './server-config.ts';

export interface BenchStore {
  store: Store;
  close(): Promise<void>;
}

export async function benchStore(config: ServerConfig): Promise<BenchStore> {
  const run = `bench_${randomBytes(4).toString('hex')}`;
  switch (config.store ?? 'memory') {
    case 'memory': {
      // The defaults (10,000 records): new keys fill it within seconds, so the run includes
      // eviction, as a busy server with this store would.
      const store = memoryStore({ maxRecords: config.maxRecords });
      return { store, close: () => store.close?.() ?? Promise.resolve() };
    }
    case 'sqlite': {
      // Each store is imported only where it runs, so the other servers stay lean.
      const { sqliteStore } = await import('../../src/server/stores/sqlite.ts');
      const store = sqliteStore({
        path: required(config.target, 'sqlite file'),
        synchronous: config.synchronous,
      });
      return { store, close: () => store.close() };
    }
    case 'redis': {
      const { createClient } = await import('redis');
      const { redisStore } = await import('../../src/server/stores/redis.ts');
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
      const { default: pg } = await import('pg');
      const { postgresStore } = await import('../../src/server/stores/postgres.ts');
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

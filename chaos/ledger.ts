/**
 * The ledger of side effects: one row (or counter) per run of the handler, written in the store's
 * own database so it survives a server kill exactly as the idempotency records do. The servers
 * write it; the orchestrator prepares and reads it.
 */
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { createClient } from 'redis';

/** The stores the chaos suite runs against. */
export const CHAOS_STORES = ['sqlite', 'redis', 'postgres'] as const;
export type ChaosStore = (typeof CHAOS_STORES)[number];

/** Where a run keeps its records and ledger. */
export interface LedgerTarget {
  store: ChaosStore;
  /** The SQLite file, or the Redis or PostgreSQL URL. */
  target: string;
  /** Redis key prefix or SQL table prefix: letters, digits and `_`. */
  namespace: string;
}

/** The server's side: records one effect, inside the store's transaction when there is one. */
export interface LedgerWriter {
  record(op: string, key: string, tx?: unknown): Promise<void>;
  close(): Promise<void>;
}

function checkNamespace(namespace: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(namespace)) throw new Error(`bad namespace ${namespace}`);
  return namespace;
}

/** Creates an empty ledger (dropping one left by an earlier run under the same namespace). */
export async function prepareLedger({ store, target, namespace }: LedgerTarget): Promise<void> {
  const ns = checkNamespace(namespace);
  if (store === 'sqlite') {
    const db = new DatabaseSync(target, { timeout: 5_000 });
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`DROP TABLE IF EXISTS ${ns}_ledger`);
    db.exec(`CREATE TABLE ${ns}_ledger (op TEXT NOT NULL, key TEXT NOT NULL, pid INTEGER)`);
    db.close();
  } else {
    await dropLedger({ store, target, namespace });
    if (store === 'postgres') {
      const client = new pg.Client({ connectionString: target });
      await client.connect();
      try {
        await client.query(
          `CREATE TABLE ${ns}_ledger (op TEXT NOT NULL, key TEXT NOT NULL, pid INT)`,
        );
      } finally {
        await client.end();
      }
    }
  }
}

/** Removes what a run left in a shared store (tables or keys); a SQLite run's directory goes whole. */
export async function dropLedger({ store, target, namespace }: LedgerTarget): Promise<void> {
  const ns = checkNamespace(namespace);
  if (store === 'postgres') {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      await client.query(`DROP TABLE IF EXISTS ${ns}_ledger, ${ns}_records`);
    } finally {
      await client.end();
    }
  } else if (store === 'redis') {
    const client = await createClient({ url: target }).connect();
    try {
      let cursor = '0';
      do {
        const page = await client.scan(cursor, { MATCH: `${ns}:*`, COUNT: 1000 });
        cursor = String(page.cursor);
        if (page.keys.length > 0) await client.del(page.keys);
      } while (cursor !== '0');
    } finally {
      client.destroy();
    }
  }
}

/** Effects per operation id, as the ledger holds them. */
export async function readLedger({ store, target, namespace }: LedgerTarget) {
  const ns = checkNamespace(namespace);
  const effects = new Map<string, number>();
  if (store === 'sqlite') {
    const db = new DatabaseSync(target, { timeout: 5_000, readOnly: true });
    const rows = db.prepare(`SELECT op, count(*) AS n FROM ${ns}_ledger GROUP BY op`).all();
    for (const row of rows) effects.set(String(row.op), Number(row.n));
    db.close();
  } else if (store === 'postgres') {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT op, count(*) AS n FROM ${ns}_ledger GROUP BY op`);
      for (const row of rows) effects.set(String(row.op), Number(row.n));
    } finally {
      await client.end();
    }
  } else {
    const client = await createClient({ url: target }).connect();
    try {
      const counts = await client.hGetAll(`${ns}:ledger`);
      for (const [op, n] of Object.entries(counts)) effects.set(op, Number(n));
    } finally {
      client.destroy();
    }
  }
  return effects;
}

/** Opens the ledger for a server process. */
export async function openLedger({
  store,
  target,
  namespace,
}: LedgerTarget): Promise<LedgerWriter> {
  const ns = checkNamespace(namespace);
  if (store === 'sqlite') {
    const db = new DatabaseSync(target, { timeout: 5_000 });
    db.exec('PRAGMA synchronous = NORMAL');
    const insert = db.prepare(`INSERT INTO ${ns}_ledger (op, key, pid) VALUES (?, ?, ?)`);
    return {
      record: async (op, key) => {
        insert.run(op, key, process.pid);
      },
      close: async () => db.close(),
    };
  }
  if (store === 'postgres') {
    const pool = new pg.Pool({ connectionString: target, max: 10 });
    const insert = `INSERT INTO ${ns}_ledger (op, key, pid) VALUES ($1, $2, $3)`;
    return {
      record: async (op, key, tx) => {
        await ((tx as pg.PoolClient | undefined) ?? pool).query(insert, [op, key, process.pid]);
      },
      close: () => pool.end(),
    };
  }
  const client = await createClient({ url: target }).connect();
  return {
    record: async (op) => {
      await client.hIncrBy(`${ns}:ledger`, op, 1);
    },
    close: async () => client.destroy(),
  };
}

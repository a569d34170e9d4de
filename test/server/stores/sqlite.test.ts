import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { isOncelyError } from '../../../src/errors/oncely-error.ts';
import { sqliteStore } from '../../../src/server/stores/sqlite.ts';
import { StoreError } from '../../../src/server/stores/store-error.ts';
import { completed, failureOf, inFlight, testStore } from './contract.ts';

/**
 * sqliteStore on a DatabaseSync that lacks `names`, as on the Node versions the package supports
 * from before they were added (isOpen in 22.15; isTransaction and the constructor's `timeout`
 * option in 22.16). Its errors are another module instance's StoreError.
 */
async function onNodeWithout(
  ...names: ('isOpen' | 'isTransaction' | 'timeout')[]
): Promise<typeof sqliteStore> {
  vi.resetModules();
  vi.doMock('node:sqlite', async (importOriginal) => {
    const real = await importOriginal<typeof import('node:sqlite')>();
    function OlderDatabaseSync(...args: ConstructorParameters<typeof DatabaseSync>) {
      const [path, options] = args;
      const db = new real.DatabaseSync(
        path,
        names.includes('timeout') ? { ...options, timeout: undefined } : options,
      );
      return new Proxy(db, {
        get(target, name) {
          if ((names as (string | symbol)[]).includes(name)) return undefined;
          const value = Reflect.get(target, name, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    }
    return { ...real, DatabaseSync: OlderDatabaseSync };
  });
  try {
    return (await import('../../../src/server/stores/sqlite.ts')).sqliteStore;
  } finally {
    vi.doUnmock('node:sqlite');
  }
}

const dir = mkdtempSync(join(tmpdir(), 'oncely-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

testStore('sqlite (:memory:)', () => sqliteStore(':memory:'));
testStore('sqlite (file)', () => sqliteStore({ path: join(dir, 'contract.db'), table: 'records' }));

describe('sqliteStore', () => {
  it('puts the file in WAL mode with the documented table', async () => {
    const path = join(dir, 'schema.db');
    const store = sqliteStore(path);
    await store.claim('a', inFlight());
    const db = new DatabaseSync(path);
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    const columns = db.prepare('PRAGMA table_info(oncely_records)').all();
    expect(columns.map((column) => column.name)).toEqual([
      'id',
      'state',
      'fingerprint',
      'owner',
      'lease_until',
      'expires_at',
      'status',
      'headers',
      'body',
      'completed_at',
    ]);
    db.close();
    await store.close();
  });

  it('shares records between connections to one file', async () => {
    const path = join(dir, 'shared.db');
    const a = sqliteStore(path);
    const b = sqliteStore(path);
    const record = inFlight();
    expect(await a.claim('shared', record)).toBeUndefined();
    expect(await b.claim('shared', inFlight())).toEqual(record);
    expect(await b.complete('shared', record.owner, completed())).toBe(true);
    expect((await a.get('shared'))?.state).toBe('completed');
    await a.close();
    await b.close();
  });

  it('opens a new file from several processes starting at once', async () => {
    // Switching a new file to WAL takes a lock that SQLite does not wait for (busy_timeout does
    // not apply): a sibling's open in the same instant failed with "database is locked".
    const opener = fileURLToPath(new URL('./sqlite-opener.ts', import.meta.url));
    const opens = mkdtempSync(join(dir, 'opens-'));
    const startAt = Date.now() + 1_500;
    const children = Array.from({ length: 6 }, () =>
      spawn(process.execPath, [opener, opens, '20', String(startAt), '100'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const outputs = await Promise.all(
      children.map(async (child) => {
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk;
        });
        const [code] = await once(child, 'exit');
        expect(code).toBe(0);
        return JSON.parse(output) as string[];
      }),
    );
    expect(outputs.flat()).toEqual([]);
  }, 30_000);

  it('waits for another process holding the write lock, on a Node without the timeout option', async () => {
    const sqliteStore = await onNodeWithout('timeout');
    const path = join(dir, 'busy.db');
    const store = sqliteStore({ path, busyTimeoutMs: 5_000 });
    await store.claim('warm', inFlight());
    // Another process takes the write lock, says so, and keeps it for 300 ms.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('node:sqlite').DatabaseSync)(${JSON.stringify(path)});
        db.exec('BEGIN IMMEDIATE');
        process.stdout.write('locked\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        db.exec('COMMIT');`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(holder.stdout, 'data');
    expect(await store.claim('busy', inFlight())).toBeUndefined();
    await once(holder, 'exit');
    await store.close();
  }, 10_000);

  it('sweeps expired rows and keeps live ones', async () => {
    let time = 1_000_000;
    const store = sqliteStore({ now: () => time, sweepIntervalMs: 0 });
    await store.claim('old', inFlight({ expiresAt: time + 10 }));
    await store.claim('new', inFlight({ expiresAt: time + 1_000 }));
    time += 100;
    expect(await store.sweep()).toBe(1);
    expect(await store.get('new')).toBeDefined();
    expect(await store.sweep()).toBe(0);
    await store.close();
  });

  it('fails at creation with a StoreError when the file cannot be opened', () => {
    for (const path of [join(dir, 'missing', 'dir', 'x.db'), '/etc/hostname/x.db']) {
      let caught: unknown;
      try {
        sqliteStore(path);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(StoreError);
      expect(isOncelyError(caught, 'STORE_UNAVAILABLE')).toBe(true);
      expect((caught as StoreError).operation).toBe('open');
      expect((caught as StoreError).message).toContain(path);
      expect((caught as StoreError).cause).toBeInstanceOf(Error);
    }
  });

  it('turns a failure after close into a StoreError naming the operation', async () => {
    const store = sqliteStore();
    await store.close();
    const error = await failureOf(() => store.claim('x', inFlight()));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).operation).toBe('claim');
  });

  describe('group commit', () => {
    afterEach(() => vi.restoreAllMocks());
    const commits = () => {
      const exec = vi.spyOn(DatabaseSync.prototype, 'exec');
      return () => exec.mock.calls.filter(([sql]) => sql === 'COMMIT').length;
    };

    it('commits the writes of one turn together, each answered as if alone', async () => {
      const store = sqliteStore(join(dir, 'group.db'));
      const count = commits();
      const first = inFlight();
      const claims = Array.from({ length: 50 }, (_, i) =>
        store.claim(`key-${i % 25}`, i < 25 ? first : inFlight()),
      );
      const results = await Promise.all(claims);
      expect(count()).toBe(1);
      // The first claim of each id won; the second, in the same transaction, found it.
      expect(results.slice(0, 25)).toEqual(Array(25).fill(undefined));
      for (const found of results.slice(25)) expect(found).toEqual(first);
      await store.close();
    });

    it('splits a flood of writes into batches of at most 1,000, a turn apart', async () => {
      const store = sqliteStore(join(dir, 'flood.db'));
      const count = commits();
      const claims = Array.from({ length: 2_500 }, (_, i) => store.claim(`flood-${i}`, inFlight()));
      expect(await Promise.all(claims)).toEqual(Array(2_500).fill(undefined));
      expect(count()).toBe(3);
      // close() runs every write still queued, however many batches that takes.
      const queued = Array.from({ length: 1_500 }, (_, i) => store.claim(`late-${i}`, inFlight()));
      await store.close();
      expect(await Promise.all(queued)).toEqual(Array(1_500).fill(undefined));
    });

    it('answers a write only once another connection can read it', async () => {
      const path = join(dir, 'visible.db');
      const store = sqliteStore(path);
      await store.claim('warm', inFlight());
      const reader = new DatabaseSync(path);
      const read = () =>
        reader.prepare('SELECT state FROM oncely_records WHERE id = ?').get('visible');
      const claimed = store.claim('visible', inFlight());
      expect(read()).toBeUndefined();
      await claimed;
      expect(read()).toEqual({ state: 'in-flight' });
      reader.close();
      await store.close();
    });

    it('fails only the write whose own step failed', async () => {
      const store = sqliteStore();
      const owner = inFlight();
      await store.claim('done', owner);
      // JSON.stringify throws on a BigInt: this completion fails before its statement runs.
      const bad = completed();
      bad.response.headers = [['x-big', 1n as unknown as string]];
      const [a, b, c] = await Promise.allSettled([
        store.claim('a', inFlight()),
        store.complete('done', owner.owner, bad),
        store.claim('c', inFlight()),
      ]);
      expect(a).toEqual({ status: 'fulfilled', value: undefined });
      expect(b.status).toBe('rejected');
      expect((b as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
      expect(((b as PromiseRejectedResult).reason as StoreError).operation).toBe('complete');
      expect(c).toEqual({ status: 'fulfilled', value: undefined });
      expect((await store.get('done'))?.state).toBe('in-flight');
      await store.close();
    });

    it('fails every write of a batch whose commit fails, and writes none of them', async () => {
      const path = join(dir, 'commit-fails.db');
      const store = sqliteStore(path);
      await store.claim('warm', inFlight());
      const real = DatabaseSync.prototype.exec;
      let failNext = true;
      vi.spyOn(DatabaseSync.prototype, 'exec').mockImplementation(function (
        this: DatabaseSync,
        sql,
      ) {
        if (sql === 'COMMIT' && failNext) {
          failNext = false;
          throw new Error('disk I/O error');
        }
        return real.call(this, sql);
      });
      const outcomes = await Promise.allSettled([
        store.claim('x', inFlight()),
        store.claim('y', inFlight()),
      ]);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
        expect(((outcome as PromiseRejectedResult).reason as StoreError).operation).toBe('claim');
      }
      expect(await store.get('x')).toBeUndefined();
      // The next batch commits as usual.
      expect(await store.claim('x', inFlight())).toBeUndefined();
      expect((await store.get('x'))?.state).toBe('in-flight');
      await store.close();
    });

    it('answers every write of a batch whose commit and rollback both fail', async () => {
      const store = sqliteStore(join(dir, 'rollback-fails.db'));
      await store.claim('warm', inFlight());
      const real = DatabaseSync.prototype.exec;
      const failing = new Set(['COMMIT', 'ROLLBACK']);
      vi.spyOn(DatabaseSync.prototype, 'exec').mockImplementation(function (
        this: DatabaseSync,
        sql,
      ) {
        if (failing.delete(sql)) throw new Error(`${sql}: disk I/O error`);
        return real.call(this, sql);
      });
      // Before, the ROLLBACK's error escaped the setImmediate callback (an uncaught exception,
      // which ends a Node process) and neither claim was ever answered.
      const outcomes = await Promise.allSettled([
        store.claim('x', inFlight()),
        store.claim('y', inFlight()),
      ]);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect(((outcome as PromiseRejectedResult).reason as StoreError).operation).toBe('claim');
      }
      // The transaction the failed ROLLBACK left open is ended by the next batch, which goes on.
      expect(await store.claim('x', inFlight())).toBeUndefined();
      expect((await store.get('x'))?.state).toBe('in-flight');
      await store.close();
    }, 2_000);

    // isTransaction came in Node 22.16 and isOpen in 22.15; the package supports 22.13.
    it('fails a write alone and goes on, on a Node without isTransaction', async () => {
      const sqliteStore = await onNodeWithout('isTransaction');
      const path = join(dir, 'no-is-transaction.db');
      const store = sqliteStore(path);
      const owner = inFlight();
      await store.claim('done', owner);
      const bad = completed();
      bad.response.headers = [['x-big', 1n as unknown as string]];
      const [a, b, c] = await Promise.allSettled([
        store.claim('a', inFlight()),
        store.complete('done', owner.owner, bad),
        store.claim('c', inFlight()),
      ]);
      expect(a).toEqual({ status: 'fulfilled', value: undefined });
      expect(b.status).toBe('rejected');
      expect(c).toEqual({ status: 'fulfilled', value: undefined });
      // The transaction ended: the next batch commits, and another connection may write.
      expect(await store.claim('next', inFlight())).toBeUndefined();
      const other = sqliteStore({ path, busyTimeoutMs: 100 });
      expect(await other.claim('other', inFlight())).toBeUndefined();
      await other.close();
      await store.close();
    });

    it('ends the transaction of a failed commit, on a Node without isTransaction', async () => {
      const sqliteStore = await onNodeWithout('isTransaction');
      const store = sqliteStore(join(dir, 'no-is-transaction-commit.db'));
      await store.claim('warm', inFlight());
      const real = DatabaseSync.prototype.exec;
      let failNext = true;
      vi.spyOn(DatabaseSync.prototype, 'exec').mockImplementation(function (
        this: DatabaseSync,
        sql,
      ) {
        if (sql === 'COMMIT' && failNext) {
          failNext = false;
          throw new Error('disk I/O error');
        }
        return real.call(this, sql);
      });
      await expect(store.claim('x', inFlight())).rejects.toMatchObject({ operation: 'claim' });
      expect(await store.claim('x', inFlight())).toBeUndefined();
      await store.close();
    });

    it('flushes and closes on a Node without isOpen', async () => {
      const sqliteStore = await onNodeWithout('isOpen');
      const store = sqliteStore(join(dir, 'no-is-open.db'));
      const claimed = store.claim('queued', inFlight());
      await store.close();
      expect(await claimed).toBeUndefined();
      // Closed: a later call fails instead of using a database that was meant to be shut.
      await expect(store.get('queued')).rejects.toMatchObject({ operation: 'get' });
    });

    it('runs writes still queued when the store is closed', async () => {
      const path = join(dir, 'close-queued.db');
      const store = sqliteStore(path);
      const claimed = store.claim('queued', inFlight());
      await store.close();
      expect(await claimed).toBeUndefined();
      const reader = new DatabaseSync(path);
      expect(reader.prepare('SELECT id FROM oncely_records').all()).toEqual([{ id: 'queued' }]);
      reader.close();
    });
  });

  it('refuses a table name that is not a plain identifier', () => {
    expect(() => sqliteStore({ table: 'records; DROP TABLE x' })).toThrow(TypeError);
    expect(() => sqliteStore({ table: 'main.records' })).toThrow(TypeError);
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isOncelyError } from '../../../src/errors/oncely-error.ts';
import { sqliteStore } from '../../../src/server/stores/sqlite.ts';
import { StoreError } from '../../../src/server/stores/store-error.ts';
import { completed, failureOf, inFlight, testStore } from './contract.ts';

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

  it('refuses a table name that is not a plain identifier', () => {
    expect(() => sqliteStore({ table: 'records; DROP TABLE x' })).toThrow(TypeError);
    expect(() => sqliteStore({ table: 'main.records' })).toThrow(TypeError);
  });
});

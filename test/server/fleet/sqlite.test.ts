import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type Fleet, hundredForOneKey, startFleet } from './fleet.ts';

describe('two server processes sharing one SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oncely-fleet-'));
  const path = join(dir, 'fleet.db');
  const db = new DatabaseSync(path, { timeout: 5_000 });
  let fleet: Fleet;

  beforeAll(async () => {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE fleet_runs (key TEXT NOT NULL, pid INTEGER NOT NULL)');
    fleet = await startFleet({
      FLEET_STORE: 'sqlite',
      FLEET_TARGET: path,
      FLEET_NAMESPACE: 'fleet',
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the handler once for a hundred concurrent requests with one key', async () => {
    const count = db.prepare('SELECT count(*) AS n FROM fleet_runs WHERE key = ?');
    await hundredForOneKey(fleet, async (key) => Number(count.get(key)?.n));
  });
});

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { service } from '../../support/services.ts';
import { type Fleet, hundredForOneKey, startFleet } from './fleet.ts';

const url = service('postgres');

describe.skipIf(!url)('two server processes sharing one PostgreSQL', () => {
  const namespace = `oncely_fleet_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const runs = async (key: string) =>
    Number(
      (await pool.query(`SELECT count(*) FROM ${namespace}_runs WHERE key = $1`, [key])).rows[0]
        .count,
    );
  const fleets: Fleet[] = [];

  beforeAll(async () => {
    await pool.query(`CREATE TABLE ${namespace}_runs (key TEXT NOT NULL, pid INTEGER NOT NULL)`);
  });

  afterAll(async () => {
    await Promise.all(fleets.map((fleet) => fleet.stop()));
    await pool.query(`DROP TABLE IF EXISTS ${namespace}_runs, ${namespace}_records`);
    await pool.end();
  });

  const env = (store: string) => ({
    FLEET_STORE: store,
    FLEET_TARGET: url as string,
    FLEET_NAMESPACE: namespace,
  });

  describe.each([
    ['plain', 'postgres'],
    ['transactional, the run counted inside the transaction', 'postgres-tx'],
  ])('%s', (_, store) => {
    let fleet: Fleet;
    beforeAll(async () => {
      fleet = await startFleet(env(store));
      fleets.push(fleet);
    });

    it('runs the handler once for a hundred concurrent requests with one key', async () => {
      const { conflicts, replays } = await hundredForOneKey(fleet, runs);
      // Plain mode answers a duplicate 409 while the first runs; transactional mode makes it wait
      // on the row and replay.
      expect(store === 'postgres' ? conflicts : replays).toBeGreaterThan(0);
    });
  });
});

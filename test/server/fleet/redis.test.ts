import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { service } from '../../support/services.ts';
import { type Fleet, hundredForOneKey, startFleet } from './fleet.ts';

const url = service('redis');

describe.skipIf(!url)('two server processes sharing one Redis', () => {
  const namespace = `oncely_fleet_${randomBytes(4).toString('hex')}`;
  const client = createClient({ url });
  let fleet: Fleet;

  beforeAll(async () => {
    await client.connect();
    fleet = await startFleet({
      FLEET_STORE: 'redis',
      FLEET_TARGET: url as string,
      FLEET_NAMESPACE: namespace,
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    const keys = await client.keys(`${namespace}:*`);
    if (keys.length > 0) await client.del(keys);
    client.destroy();
  });

  it('runs the handler once for a hundred concurrent requests with one key', async () => {
    const runs = async (key: string) => Number((await client.get(`${namespace}:runs:${key}`)) ?? 0);
    const { conflicts } = await hundredForOneKey(fleet, runs);
    expect(conflicts).toBeGreaterThan(0);
  });
});

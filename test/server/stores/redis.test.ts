import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, createClientPool } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../../src/server/stores/redis.ts';
import type { InFlightRecord } from '../../../src/server/stores/store.ts';
import { StoreError } from '../../../src/server/stores/store-error.ts';
import { service } from '../../support/services.ts';
import { completed, failureOf, inFlight, testStore } from './contract.ts';

const url = service('redis');

describe.skipIf(!url)('redisStore', () => {
  const client = createClient({ url });
  const resp3 = createClient({ url, RESP: 3 });
  const prefix = `oncely-test:${randomUUID()}:`;

  beforeAll(async () => {
    await client.connect();
    await resp3.connect();
  });

  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(keys);
    client.destroy();
    resp3.destroy();
  });

  testStore('redis', () => redisStore(client, { prefix }));
  testStore('redis (RESP3 client)', () => redisStore(resp3, { prefix: `${prefix}resp3:` }));

  it('keeps each record as one hash that Redis expires at expiresAt', async () => {
    const store = redisStore(client, { prefix });
    const record = inFlight({ expiresAt: Date.now() + 90_000.5 });
    await store.claim('layout', record);
    const key = `${prefix}layout`;
    expect(await client.type(key)).toBe('hash');
    expect(await client.hGetAll(key)).toEqual({
      state: 'in-flight',
      fingerprint: record.fingerprint,
      owner: record.owner,
      lease_until: String(record.leaseUntil),
      expires_at: String(record.expiresAt),
    });
    expect(await client.pExpireTime(key)).toBe(Math.ceil(record.expiresAt));

    const done = completed({ expiresAt: Date.now() + 3_600_000 });
    await store.complete('layout', record.owner, done);
    expect(Number(await client.hExists(key, 'owner'))).toBe(0);
    expect(await client.pExpireTime(key)).toBe(done.expiresAt);
  });

  it('moves the PEXPIREAT of the key with a renewed lease that outruns expiresAt, never back', async () => {
    const store = redisStore(client, { prefix });
    const record = inFlight({ leaseUntil: Date.now() + 1_000, expiresAt: Date.now() + 2_000 });
    await store.claim('renewed', record);
    const key = `${prefix}renewed`;
    const later = Date.now() + 60_000.5;
    expect(await store.renew('renewed', record.owner, later)).toBe(true);
    expect(await client.hGet(key, 'expires_at')).toBe(String(later));
    expect(await client.pExpireTime(key)).toBe(Math.ceil(later));
    // A shorter lease leaves both alone.
    expect(await store.renew('renewed', record.owner, Date.now() + 5_000)).toBe(true);
    expect(await client.hGet(key, 'expires_at')).toBe(String(later));
    expect(await client.pExpireTime(key)).toBe(Math.ceil(later));
  });

  it('works over a node-redis client pool', async () => {
    const pool = createClientPool({ url }, { minimum: 1, maximum: 4 });
    await pool.connect();
    const store = redisStore(pool, { prefix });
    const contenders = Array.from({ length: 20 }, () => inFlight());
    const claims = await Promise.all(contenders.map((record) => store.claim('pooled', record)));
    expect(claims.filter((claim) => claim === undefined)).toHaveLength(1);
    const winner = contenders[claims.indexOf(undefined)] as InFlightRecord;
    expect(await store.complete('pooled', winner.owner, completed())).toBe(true);
    expect((await store.get('pooled'))?.state).toBe('completed');
    pool.destroy();
  });

  it('uses the default prefix oncely:', async () => {
    const store = redisStore(client);
    const id = `${prefix}default`;
    await store.claim(id, inFlight());
    expect(await client.exists(`oncely:${id}`)).toBe(1);
    await client.del(`oncely:${id}`);
  });

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const store = redisStore(client, { prefix });
    const record = inFlight();
    await store.claim('flushed', record);
    await client.scriptFlush();
    expect(await store.renew('flushed', record.owner, Date.now() + 1_000)).toBe(true);
    expect(await store.claim('flushed-2', inFlight())).toBeUndefined();
  });

  it('fails with a StoreError, not a hang, when the client cannot reach Redis', async () => {
    const closed = createClient({
      url: 'redis://127.0.0.1:1',
      socket: { connectTimeout: 200, reconnectStrategy: false },
    });
    await expect(closed.connect()).rejects.toThrow();
    const store = redisStore(closed, { commandTimeoutMs: 300 });
    const error = await failureOf(() => store.claim('down', inFlight()));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).operation).toBe('claim');
    expect((error as StoreError).code).toBe('STORE_UNAVAILABLE');
    expect((error as StoreError).cause).toBeInstanceOf(Error);
  });

  it('bounds each command when Redis goes away under a reconnecting client', async () => {
    const { port, process: server } = await startRedis();
    const flaky = createClient({
      url: `redis://127.0.0.1:${port}`,
      socket: { connectTimeout: 200, reconnectStrategy: 50 },
    });
    flaky.on('error', () => {});
    await flaky.connect();
    const store = redisStore(flaky, { commandTimeoutMs: 300 });
    const record = inFlight();
    expect(await store.claim('id', record)).toBeUndefined();

    server.kill('SIGKILL');
    await once(server, 'exit');
    await sleep(50);
    const started = performance.now();
    const operations = [
      store.get('id'),
      store.claim('other', inFlight()),
      store.complete('id', record.owner, completed()),
    ];
    const results = await Promise.allSettled(operations);
    const elapsed = performance.now() - started;
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const errors = results.map((result) => (result as PromiseRejectedResult).reason as StoreError);
    expect(errors.every((error) => error instanceof StoreError)).toBe(true);
    expect(errors.map((error) => error.operation)).toEqual(['get', 'claim', 'complete']);
    expect(elapsed).toBeLessThan(2_000);
    flaky.destroy();
  });

  it('bounds a command already sent to a Redis that stopped answering (frozen, partitioned)', async () => {
    const { port, process: server } = await startRedis();
    const frozen = createClient({ url: `redis://127.0.0.1:${port}` });
    frozen.on('error', () => {});
    await frozen.connect();
    const store = redisStore(frozen, { commandTimeoutMs: 300 });
    const record = inFlight();
    expect(await store.claim('id', record)).toBeUndefined();

    // The socket stays open but nothing answers: node-redis's own timeout no longer applies to a
    // command once written, so only the store's bound ends the wait.
    server.kill('SIGSTOP');
    try {
      const started = performance.now();
      const results = await Promise.allSettled([
        store.get('id'),
        store.claim('other', inFlight()),
        store.renew('id', record.owner, Date.now() + 60_000),
      ]);
      expect(performance.now() - started).toBeLessThan(2_000);
      const errors = results.map((result) =>
        result.status === 'rejected' ? (result.reason as StoreError) : undefined,
      );
      expect(errors.every((error) => error instanceof StoreError)).toBe(true);
      expect(errors.map((error) => error?.operation)).toEqual(['get', 'claim', 'renew']);
    } finally {
      server.kill('SIGCONT');
      server.kill('SIGKILL');
      await once(server, 'exit');
      frozen.destroy();
    }
  });
});

/** A private redis-server on a free port, to be killed by the test. */
async function startRedis(): Promise<{ port: number; process: ChildProcess }> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as { port: number }).port;
  probe.close();
  await once(probe, 'close');
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  for (let attempt = 0; attempt < 100; attempt++) {
    const probeClient = createClient({
      url: `redis://127.0.0.1:${port}`,
      socket: { reconnectStrategy: false },
    });
    probeClient.on('error', () => {});
    try {
      await probeClient.connect();
      probeClient.destroy();
      return { port, process: child };
    } catch {
      await sleep(50);
    }
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${port}`);
}

/**
 * A shortened chaos run (issue 5): real server processes behind the fault-injecting proxy, client
 * processes killed and resumed from their file journals, and the ledger checked operation by
 * operation. The stores run at once to stay within seconds; `npm run chaos` is the full run.
 */
import { describe, expect, it } from 'vitest';
import type { ChaosStore } from '../../chaos/ledger.ts';
import { type ChaosResult, runChaos } from '../../chaos/run.ts';
import { service } from '../support/services.ts';

const urls: Record<ChaosStore, string | undefined> = {
  sqlite: undefined,
  redis: service('redis'),
  postgres: service('postgres'),
};

/** One shortened run; the guarded ones and the control share every setting but the guard. */
function shortRun(store: ChaosStore, guard = true): Promise<ChaosResult> {
  const result = runChaos({
    store,
    url: urls[store],
    guard,
    ops: 120,
    faultRate: 0.3,
    concurrency: 24,
    seed: 5,
    workers: 3,
    batchSize: 40,
    serverKillSpacingMs: 1_500,
    // Generous: on a quiet machine the runs take ~25 s together, CI may be far busier.
    deadlineMs: 100_000,
  });
  // Awaited by its own test; this keeps a failure from surfacing before that as unhandled.
  result.catch(() => {});
  return result;
}

const runs = new Map<ChaosStore, Promise<ChaosResult>>();
function run(store: ChaosStore): Promise<ChaosResult> {
  let result = runs.get(store);
  if (result === undefined) {
    result = shortRun(store);
    runs.set(store, result);
  }
  return result;
}
// Started together at load: the runs overlap instead of adding up.
for (const store of ['sqlite', 'redis', 'postgres'] as const) {
  if (store === 'sqlite' || urls[store]) run(store);
}
// The control: the same faults and kills on SQLite, with the handler unguarded.
const control = shortRun('sqlite', false);
// The control behind the node:http adapter's handler shape, which logs keys itself.
const nodeControl = runChaos({
  store: 'sqlite',
  adapter: 'node',
  guard: false,
  ops: 40,
  faultRate: 0.3,
  concurrency: 16,
  seed: 5,
  workers: 2,
  batchSize: 20,
  deadlineMs: 100_000,
});
nodeControl.catch(() => {});

function expectExactlyOnce(result: ChaosResult) {
  expect(result.attempts).toBeGreaterThan(result.ops);
  expect(Object.values(result.faults).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(15);
  expect({
    effects: result.effects,
    duplicates: result.duplicates,
    lost: result.lost,
    changedKeys: result.changedKeys,
    leasesLost: result.leasesLost,
  }).toEqual({ effects: result.ops, duplicates: 0, lost: 0, changedKeys: 0, leasesLost: 0 });
}

describe('chaos: every operation takes effect once', () => {
  it('SQLite, one server', { timeout: 120_000 }, async () => {
    expectExactlyOnce(await run('sqlite'));
  });

  it.skipIf(!urls.redis)('Redis, two servers', { timeout: 120_000 }, async () => {
    const result = await run('redis');
    expect(result.servers).toBe(2);
    expectExactlyOnce(result);
  });

  it.skipIf(!urls.postgres)(
    'PostgreSQL, two servers, transactional mode',
    { timeout: 120_000 },
    async () => {
      const result = await run('postgres');
      expect(result.servers).toBe(2);
      expectExactlyOnce(result);
    },
  );

  it('control: without the helper the same faults run operations twice, and the ledger sees it', {
    timeout: 120_000,
  }, async () => {
    // What makes the runs above a proof: this harness does count a second effect when one happens.
    const result = await control;
    expect(result.duplicates).toBeGreaterThan(0);
    expect(result.effects).toBeGreaterThan(result.ops);
    expect(result.changedKeys).toBe(0);
  });

  it('the first client kill waits for operations under way, so a fresh process has some to resume', {
    timeout: 60_000,
  }, async () => {
    // 16 of the 25 go out at once: killed right after the 13th, the journal was still empty.
    const result = await runChaos({
      store: 'sqlite',
      ops: 25,
      faultRate: 0.3,
      concurrency: 16,
      seed: 3,
      workers: 1,
      batchSize: 25,
      clientKills: 'first',
      deadlineMs: 50_000,
    });
    expect(result.faults['client-kill']).toBe(1);
    expect(result.resumed).toBeGreaterThan(0);
    expect([result.effects, result.duplicates, result.lost]).toEqual([25, 0, 0]);
  });

  it('control on the node adapter: the server logs the key each attempt carried', {
    timeout: 120_000,
  }, async () => {
    // Its attempts log merges with the proxy's: a key misread there reads as a changed key.
    expect((await nodeControl).changedKeys).toBe(0);
  });
});

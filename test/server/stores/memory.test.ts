import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../../src/server/stores/memory.ts';
import { StoreError } from '../../../src/server/stores/store-error.ts';
import { completed, failureOf, inFlight, testStore } from './contract.ts';

testStore('memory', () => memoryStore());

describe('memoryStore', () => {
  it('drops the oldest completed records when full, never an in-flight one', async () => {
    const store = memoryStore({ maxRecords: 3 });
    const running = inFlight();
    await store.claim('running', running);
    for (const id of ['done-1', 'done-2']) {
      const record = inFlight();
      await store.claim(id, record);
      await store.complete(id, record.owner, completed());
    }
    expect(await store.claim('new', inFlight())).toBeUndefined();
    expect(await store.get('done-1')).toBeUndefined();
    expect(await store.get('done-2')).toBeDefined();
    expect(await store.get('running')).toEqual(running);
    await store.close?.();
  });

  it('evicts 1 % of the bound at once when full, so a full store does not scan on every claim', async () => {
    const store = memoryStore({ maxRecords: 200 });
    for (let i = 0; i < 200; i++) {
      const record = inFlight();
      await store.claim(`done-${i}`, record);
      await store.complete(`done-${i}`, record.owner, completed());
    }
    expect(await store.claim('new', inFlight())).toBeUndefined();
    expect(await store.get('done-0')).toBeUndefined();
    expect(await store.get('done-1')).toBeUndefined();
    expect(await store.get('done-2')).toBeDefined();
    // Room is left for the next claim without another eviction.
    expect(await store.claim('next', inFlight())).toBeUndefined();
    expect(await store.get('done-2')).toBeDefined();
    await store.close?.();
  });

  it('refuses a claim with a StoreError when every record is in flight', async () => {
    const store = memoryStore({ maxRecords: 2 });
    await store.claim('a', inFlight());
    await store.claim('b', inFlight());
    const error = await failureOf(() => store.claim('c', inFlight()));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).operation).toBe('claim');
    await store.close?.();
  });

  it('makes room by sweeping expired records first', async () => {
    let time = 1_000;
    const store = memoryStore({ maxRecords: 2, now: () => time });
    await store.claim('a', inFlight({ expiresAt: 1_100 }));
    await store.claim('b', inFlight({ expiresAt: 5_000 }));
    time = 2_000;
    expect(await store.claim('c', inFlight({ expiresAt: 5_000 }))).toBeUndefined();
    expect(await store.get('b')).toBeDefined();
    await store.close?.();
  });
});

import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { idempotency } from '../../../src/server/core/idempotency.ts';
import { InvalidOptionsError } from '../../../src/server/core/invalid-options-error.ts';
import { recordId } from '../../../src/server/core/record-id.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';
import type { CompletedRecord } from '../../../src/server/stores/store.ts';
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

  it('tells onEvict how many unexpired answers it dropped, and how long it kept them', async () => {
    let time = 10_000;
    const evictions: { evicted: number; keptMs: number }[] = [];
    const store = memoryStore({
      maxRecords: 200,
      now: () => time,
      onEvict: (eviction) => evictions.push(eviction),
    });
    for (let i = 0; i < 200; i++) {
      const record = inFlight({ expiresAt: time + 3_600_000 });
      await store.claim(`done-${i}`, record);
      await store.complete(`done-${i}`, record.owner, completed({ completedAt: time }));
      time += 10;
    }
    expect(evictions).toEqual([]);
    await store.claim('new', inFlight({ expiresAt: time + 3_600_000 }));
    // done-0 and done-1 went; done-1 was completed at 10,010, 1,990 ms before.
    expect(evictions).toEqual([{ evicted: 2, keptMs: 1_990 }]);
    await store.close?.();
  });

  it('warns once by default when it drops unexpired answers, and a throwing hook fails nothing', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const fill = async (store: ReturnType<typeof memoryStore>, from: number) => {
      for (let i = from; i < from + 3; i++) {
        const record = inFlight();
        await store.claim(`k-${i}`, record);
        await store.complete(`k-${i}`, record.owner, completed());
      }
    };
    const store = memoryStore({ maxRecords: 2 });
    await fill(store, 0);
    await fill(store, 3);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('maxRecords 2');
    warn.mockRestore();
    await store.close?.();
    const throwing = memoryStore({
      maxRecords: 2,
      onEvict: () => {
        throw new Error('hook broke');
      },
    });
    await fill(throwing, 0);
    expect(await throwing.get('k-2')).toBeDefined();
    await throwing.close?.();
  });

  describe('maxBytes', () => {
    let time = 1_000_000;
    const body = (size: number) => new Uint8Array(size).fill(65);
    const answer = (size: number) =>
      completed({
        response: { status: 200, headers: [], body: body(size) },
        completedAt: time,
        expiresAt: time + 60_000,
      });
    const store300 = (onEvict: (e: { evicted: number; keptMs: number }) => void) =>
      memoryStore({ maxBytes: 1_000, now: () => time, onEvict, sweepIntervalMs: 0 });
    const keep = async (store: ReturnType<typeof memoryStore>, id: string, size: number) => {
      const record = inFlight({ expiresAt: time + 60_000 });
      await store.claim(id, record);
      return store.complete(id, record.owner, answer(size));
    };

    it('drops the oldest answers when the bodies would pass maxBytes', async () => {
      const evictions: { evicted: number; keptMs: number }[] = [];
      const store = store300((eviction) => evictions.push(eviction));
      for (const id of ['a', 'b', 'c']) expect(await keep(store, id, 300)).toBe(true);
      expect(evictions).toEqual([]);
      time += 5;
      expect(await keep(store, 'd', 300)).toBe(true);
      expect(await store.get('a')).toBeUndefined();
      for (const id of ['b', 'c', 'd']) expect((await store.get(id))?.state).toBe('completed');
      expect(evictions).toEqual([{ evicted: 1, keptMs: 5 }]);
      await store.close?.();
    });

    it('refuses an answer larger than maxBytes without dropping any other', async () => {
      const store = store300(() => {});
      await keep(store, 'a', 300);
      const record = inFlight({ expiresAt: time + 60_000 });
      await store.claim('big', record);
      const error = await failureOf(() => store.complete('big', record.owner, answer(1_001)));
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).operation).toBe('complete');
      expect((await store.get('a'))?.state).toBe('completed');
      expect((await store.get('big'))?.state).toBe('in-flight');
      await store.close?.();
    });

    it('counts the bytes of answers that expired as gone', async () => {
      const evictions: unknown[] = [];
      const store = store300((eviction) => evictions.push(eviction));
      for (const id of ['a', 'b', 'c']) await keep(store, id, 300);
      time += 60_001;
      for (const id of ['d', 'e', 'f']) await keep(store, id, 300);
      expect(evictions).toEqual([]);
      await store.close?.();
    });

    it('refuses a maxBytes it cannot keep', () => {
      for (const maxBytes of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => memoryStore({ maxBytes })).toThrow(InvalidOptionsError);
      }
    });
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

  it('drops expired records before a live completed one, wherever they stand in age', async () => {
    // Two routes with their own ttlMs share the store: the older record is the longer-lived one.
    let time = 1_000;
    const store = memoryStore({ maxRecords: 2, now: () => time });
    for (const [id, expiresAt] of [
      ['day-long', 90_000],
      ['minute-long', 1_100],
    ] as const) {
      const record = inFlight({ leaseUntil: 1_050, expiresAt });
      await store.claim(id, record);
      await store.complete(id, record.owner, completed({ expiresAt }));
    }
    time = 2_000;
    expect(await store.claim('new', inFlight({ expiresAt: 90_000 }))).toBeUndefined();
    // Evicting it would let a retry of that request run its handler a second time.
    expect((await store.get('day-long'))?.state).toBe('completed');
    await store.close?.();
  });

  it('refuses a bound it cannot keep at creation, instead of answering every claim with a StoreError', () => {
    for (const maxRecords of [0, -1, 1.5, Number.NaN]) {
      expect(() => memoryStore({ maxRecords })).toThrow(InvalidOptionsError);
    }
    expect(() => memoryStore({ sweepIntervalMs: -1 })).toThrow(InvalidOptionsError);
    expect(() => memoryStore({ sweepIntervalMs: Number.NaN })).toThrow(InvalidOptionsError);
  });

  it('sweeps never with sweepIntervalMs 0 or Infinity, not every millisecond', async () => {
    // Node runs a timer of 0, NaN, Infinity or more than 2^31 - 1 ms every 1 ms: a full scan of
    // the records a thousand times a second.
    const spy = vi.spyOn(globalThis, 'setInterval');
    try {
      for (const sweepIntervalMs of [0, Number.POSITIVE_INFINITY, 2 ** 40]) {
        spy.mockClear();
        const store = memoryStore({ sweepIntervalMs });
        const delays = spy.mock.calls.map((call) => call[1] as number);
        expect(delays.every((delay) => delay >= 1_000 && delay <= 2 ** 31 - 1)).toBe(true);
        await store.close?.();
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps the bytes of a stored body, not the larger buffer it was a view of', async () => {
    // A chunk from a Node stream (Readable.toWeb) is a view on a 64 KiB buffer: a 2-byte answer
    // kept as is held all of it, so 10,000 records of a few bytes could hold 640 MiB.
    const store = memoryStore();
    const guarded = idempotency({ store, scope: () => 't' })(
      async () =>
        new Response(Readable.toWeb(Readable.from([Buffer.from('ok')])) as ReadableStream),
    );
    const request = () =>
      new Request('http://api.test/charges', {
        method: 'POST',
        headers: { 'idempotency-key': 'k' },
        body: 'x',
      });
    expect(await (await guarded(request())).text()).toBe('ok');
    const record = (await store.get(recordId('t', 'k'))) as CompletedRecord;
    expect(new TextDecoder().decode(record.response.body)).toBe('ok');
    expect(record.response.body.buffer.byteLength).toBe(2);
    expect(await (await guarded(request())).text()).toBe('ok');
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

describe('a handler that runs longer than ttlMs, through the helper', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps its in-flight record past ttlMs and past its first lease: a duplicate gets 409 and the handler runs once', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    let time = 1_000_000;
    const now = () => time;
    const store = memoryStore({ now, sweepIntervalMs: 1e9 });
    let runs = 0;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const guarded = idempotency({ store, now, scope: () => 't', ttlMs: 1_000, leaseMs: 3_000 })(
      async () => {
        // Only the first run waits: a second run (the defect) answers at once, so the test fails
        // on its status instead of hanging.
        if (runs++ === 0) await done;
        return new Response('charged', { status: 201 });
      },
    );
    const post = () =>
      new Request('http://api.test/charges', {
        method: 'POST',
        headers: { 'idempotency-key': 'k' },
        body: 'x',
      });
    const advance = async (ms: number) => {
      for (let elapsed = 0; elapsed < ms; elapsed += 100) {
        time += 100;
        await vi.advanceTimersByTimeAsync(100);
      }
    };

    const first = guarded(post());
    await vi.advanceTimersByTimeAsync(0);
    // 2 s in: past ttlMs, within the first lease (the reviewer's case, ttlMs < leaseMs).
    await advance(2_000);
    expect((await guarded(post())).status).toBe(409);
    // 4.5 s in: past the first lease too; renewed, so the record is still there.
    await advance(2_500);
    expect((await guarded(post())).status).toBe(409);
    expect(runs).toBe(1);

    finish();
    expect(await (await first).text()).toBe('charged');
    // The completed record keeps ttlMs from its completion, as before.
    expect(await store.get(recordId('t', 'k'))).toMatchObject({
      state: 'completed',
      completedAt: time,
      expiresAt: time + 1_000,
    });
    const replay = await guarded(post());
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe('charged');
    expect(runs).toBe(1);
    await store.close?.();
  });
});

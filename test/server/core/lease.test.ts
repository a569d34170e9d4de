import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordId } from '../../../src/server/core/record-id.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';
import { clock, post, problemOf, setup } from './helpers.ts';

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

afterEach(() => {
  vi.useRealTimers();
});

describe('lease, takeover and owner token', () => {
  it('lets a retry take over a lapsed lease, and keeps the late first handler from overwriting', async () => {
    const time = clock();
    const store = memoryStore({ now: time.now });
    const gates = [gate(), gate()];
    let call = 0;
    const t = setup(
      async () => {
        const mine = call++;
        await gates[mine]?.wait;
        return new Response(`answer of run ${mine}`, { status: 201 });
      },
      { store, now: time.now, leaseMs: 60_000 },
    );
    const first = t.guarded(post('k'));
    await tick();
    // Still leased: a duplicate gets 409 with the remaining lease as Retry-After.
    time.advance(59_000);
    const busy = await t.guarded(post('k'));
    expect(busy.status).toBe(409);
    expect(busy.headers.get('retry-after')).toBe('1');
    // The first process stalls past its lease (no renewal ran): the next retry takes over.
    time.advance(1_000);
    const second = t.guarded(post('k'));
    await tick();
    expect(t.types()).toContain('takeover');
    gates[1]?.open();
    expect(await (await second).text()).toBe('answer of run 1');
    // The first handler finally answers: its response is sent, but it must not be stored.
    gates[0]?.open();
    expect(await (await first).text()).toBe('answer of run 0');
    expect(t.types()).toContain('lost');
    const replay = await t.guarded(post('k'));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe('answer of run 1');
    expect(t.runs).toBe(2);
  });

  it('does not take over a lapsed lease for another request: that is still a 422', async () => {
    const time = clock();
    const store = memoryStore({ now: time.now });
    const hold = gate();
    const t = setup(
      async () => {
        await hold.wait;
        return new Response('x');
      },
      { store, now: time.now },
    );
    void t.guarded(post('k', { a: 1 }));
    await tick();
    time.advance(120_000);
    expect((await t.guarded(post('k', { a: 2 }))).status).toBe(422);
    hold.open();
  });

  it('lets only one of two concurrent retries take over a lapsed lease', async () => {
    const time = clock();
    const store = memoryStore({ now: time.now });
    const hold = gate();
    const t = setup(
      async () => {
        await hold.wait;
        return new Response('x', { status: 201 });
      },
      { store, now: time.now },
    );
    void t.guarded(post('k'));
    await tick();
    time.advance(61_000);
    const [a, b] = await Promise.all([
      Promise.race([t.guarded(post('k')), tick().then(() => 'running')]),
      Promise.race([t.guarded(post('k')), tick().then(() => 'running')]),
    ]);
    const statuses = [a, b].map((result) =>
      result === 'running' ? 'running' : (result as Response).status,
    );
    expect(statuses.sort()).toEqual([409, 'running']);
    expect(t.types().filter((type) => type === 'takeover')).toHaveLength(1);
    hold.open();
  });

  it('renews the lease while the handler runs, on one shared timer', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const time = clock(0);
    const store = memoryStore({ now: time.now, sweepIntervalMs: 1e9 });
    const hold = gate();
    const t = setup(
      async () => {
        await hold.wait;
        return new Response('done', { status: 201 });
      },
      { store, now: time.now, leaseMs: 3_000 },
    );
    const first = t.guarded(post('k'));
    await vi.advanceTimersByTimeAsync(0);
    const id = recordId('tenant-1', 'k');
    expect(await store.get(id)).toMatchObject({ state: 'in-flight', leaseUntil: 3_000 });
    for (let elapsed = 0; elapsed < 2_000; elapsed += 100) {
      time.advance(100);
      await vi.advanceTimersByTimeAsync(100);
    }
    // At 2 s less than two thirds of the lease was left: renewed to now + leaseMs.
    expect(await store.get(id)).toMatchObject({ leaseUntil: 5_000 });
    for (let elapsed = 0; elapsed < 2_500; elapsed += 100) {
      time.advance(100);
      await vi.advanceTimersByTimeAsync(100);
    }
    // 4.5 s in: past the first lease, but renewed, so a duplicate is still refused.
    const duplicate = await t.guarded(post('k'));
    expect(duplicate.status).toBe(409);
    expect(Number(duplicate.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(t.types()).not.toContain('takeover');
    hold.open();
    expect(await (await first).text()).toBe('done');
    expect(await store.get(id)).toMatchObject({ state: 'completed' });
    expect(t.runs).toBe(1);
    await store.close?.();
  });

  it('renews a lease longer than a Node timer can wait without waking every millisecond', async () => {
    // Node runs a timer of more than 2^31 - 1 ms every 1 ms: leaseMs / 3 past that is 75 days.
    const spy = vi.spyOn(globalThis, 'setInterval');
    try {
      const hold = gate();
      const t = setup(
        async () => {
          await hold.wait;
          return new Response('done', { status: 201 });
        },
        { leaseMs: 300 * 24 * 3_600_000 },
      );
      const first = t.guarded(post('k'));
      await tick();
      const delays = spy.mock.calls.map((call) => call[1] as number);
      expect(delays.length).toBeGreaterThan(0);
      expect(delays.every((delay) => delay >= 1_000 && delay <= 2 ** 31 - 1)).toBe(true);
      hold.open();
      await (await first).text();
      await t.store.close?.();
    } finally {
      spy.mockRestore();
    }
  });

  it('reports a lost lease when renewal finds another owner', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const time = clock(0);
    const store = memoryStore({ now: time.now, sweepIntervalMs: 1e9 });
    const hold = gate();
    let call = 0;
    const t = setup(
      async () => {
        if (call++ === 0) await hold.wait;
        return new Response('late', { status: 201 });
      },
      { store, now: time.now, leaseMs: 3_000 },
    );
    const first = t.guarded(post('k'));
    await vi.advanceTimersByTimeAsync(0);
    // The process freezes past its lease: no timer runs while the clock moves on.
    time.advance(4_000);
    const second = await t.guarded(post('k'));
    await second.text();
    expect(t.types()).toContain('takeover');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.types()).toContain('lost');
    hold.open();
    await (await first).text();
    expect(t.types().filter((type) => type === 'lost')).toHaveLength(1);
    expect(t.types().filter((type) => type === 'complete')).toHaveLength(1);
    await store.close?.();
  });
});

describe('renewal against a failing store', () => {
  it('reports a renewal that throws, keeps the claim, and still stores the response', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const time = clock(0);
    const inner = memoryStore({ now: time.now, sweepIntervalMs: 1e9 });
    const store = {
      ...inner,
      renew: async () => {
        throw new Error('store unreachable');
      },
    };
    const hold = gate();
    const t = setup(
      async () => {
        await hold.wait;
        return new Response('done', { status: 201 });
      },
      { store, now: time.now, leaseMs: 3_000 },
    );
    const first = t.guarded(post('k'));
    await vi.advanceTimersByTimeAsync(0);
    time.advance(2_500);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'store-error', operation: 'renew' }),
    );
    hold.open();
    await (await first).text();
    expect(t.types()).toContain('complete');
    await inner.close?.();
  });
});

describe('wait: a concurrent duplicate waits for the first response', () => {
  it('replays the first response once it is done, instead of 409', async () => {
    const t = setup(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        return Response.json({ id: 'ch_1' }, { status: 201 });
      },
      { wait: { timeoutMs: 2_000, pollMs: 5 } },
    );
    const first = t.guarded(post('k'));
    await tick();
    const second = t.guarded(post('k'));
    const firstText = await (await first).text();
    const waited = await second;
    expect(waited.status).toBe(201);
    expect(waited.headers.get('idempotent-replayed')).toBe('true');
    expect(await waited.text()).toBe(firstText);
    expect(t.runs).toBe(1);
  });

  it('answers 409 when the wait times out', async () => {
    const hold = gate();
    const t = setup(
      async () => {
        await hold.wait;
        return new Response('x');
      },
      { wait: { timeoutMs: 30, pollMs: 10 } },
    );
    void t.guarded(post('k'));
    await tick();
    const second = await t.guarded(post('k'));
    expect(second.status).toBe(409);
    expect(await problemOf(second)).toMatchObject({ status: 409 });
    hold.open();
  });

  it('runs the handler itself when the first released the key', async () => {
    let call = 0;
    const t = setup(
      async () => {
        if (call++ === 0) {
          await new Promise((resolve) => setTimeout(resolve, 30));
          return new Response('first failed', { status: 503 });
        }
        return new Response('second ran', { status: 201 });
      },
      { wait: true },
    );
    const first = t.guarded(post('k'));
    await tick();
    const second = await t.guarded(post('k'));
    expect((await first).status).toBe(503);
    expect(await second.text()).toBe('second ran');
    expect(t.runs).toBe(2);
  });
});

describe('wait with a poll interval past what a timer keeps', () => {
  it('sleeps the longest a timer can, instead of polling every millisecond', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { sleep } = await import('../../../src/server/core/runtime.ts');
    let woke = false;
    void sleep(2 ** 31 + 1_000).then(() => {
      woke = true;
    });
    // Node fires a longer timer after 1 ms; the fake clock keeps Node's rule.
    await vi.advanceTimersByTimeAsync(10);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(woke).toBe(true);
  });
});

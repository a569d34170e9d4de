import ky, { isHTTPError } from 'ky';
import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { RetryAfterTooLongError } from '../src/client/errors/retry-after-too-long-error.ts';
import type { ReplayEvent, RetryEvent } from '../src/client/events.ts';
import { isOncelyError } from '../src/errors/oncely-error.ts';
import { newKey } from '../src/key/new-key.ts';
import { type IdempotencyOptions, idempotency, isReplayed } from '../src/ky.ts';
import { RetryBudget } from '../src/retry/budget.ts';
import { idempotentServer } from './client/support/idempotent-server.ts';
import { BASE, record, type Seen, useServer } from './client/support/msw.ts';

const server = useServer();

function api(options: IdempotencyOptions = {}) {
  return ky.create({
    baseUrl: BASE,
    ...idempotency({
      ...options,
      retry: { backoffBase: 1, backoffCap: 4, ...(options.retry as object) },
    }),
  });
}

function sequence(seen: Seen[], statuses: Array<number | 'network'>, headers?: HeadersInit) {
  return async ({ request }: { request: Request }) => {
    await record(request, seen);
    const next = statuses[seen.length - 1];
    if (next === 'network') return HttpResponse.error();
    if (next === undefined) return HttpResponse.json({ ok: true });
    return new HttpResponse(null, { status: next, headers });
  };
}

describe('oncely/ky', () => {
  it('sends one generated key per ky call, the same on ky retries, with exactly 3 attempts', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(seen, [503, 'network'])));
    const response = await api().post('c', { json: { a: 1 } });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(3);
    expect(seen[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(seen.map((s) => s.key)).size).toBe(1);
    expect(seen.map((s) => s.body)).toEqual(Array(3).fill('{"a":1}'));

    seen.length = 0;
    server.use(http.post(`${BASE}/c`, sequence(seen, Array(9).fill(503))));
    const error = await api()
      .post('c')
      .catch((e: unknown) => e);
    expect(isHTTPError(error)).toBe(true);
    expect(seen).toHaveLength(3); // one loop: no nested retries
    expect(seen[0]?.key).not.toBeNull();
  });

  it('works through ky.extend, and a new call gets a new key', async () => {
    const seen: Seen[] = [];
    server.use(http.patch(`${BASE}/c`, sequence(seen, [])));
    const extended = ky.create({ baseUrl: BASE }).extend(idempotency());
    await extended.patch('c');
    await extended.patch('c');
    expect(seen[0]?.key).toBeTruthy();
    expect(seen[0]?.key).not.toBe(seen[1]?.key);
  });

  it('makes generated keys with generateKey, once per ky call, and refuses an invalid one', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(seen, [503, 'network'])));
    let made = 0;
    await api({ generateKey: () => `ky-${++made}` }).post('c');
    await api({ generateKey: () => newKey({ version: 'v7' }) }).post('c');
    expect(seen.slice(0, 3).map((s) => s.key)).toEqual(['ky-1', 'ky-1', 'ky-1']);
    expect(made).toBe(1);
    expect(seen[3]?.key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    const error = await api({ generateKey: () => 'bad key' })
      .post('c')
      .catch((e: unknown) => e);
    expect(isOncelyError(error, 'INVALID_KEY')).toBe(true);
    expect(seen).toHaveLength(4);
  });

  it('takes a key from context, or from the header, and refuses an invalid one before sending', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(seen, [503])));
    await api().post('c', { context: { idempotencyKey: 'order-1' } });
    await api({ keyFormat: 'sf-string' }).post('c', { headers: { 'Idempotency-Key': 'hdr-1' } });
    expect(seen.map((s) => s.key)).toEqual(['order-1', 'order-1', '"hdr-1"']);
    const error = await api()
      .post('c', { context: { idempotencyKey: 'bad key' } })
      .catch((e: unknown) => e);
    expect(isOncelyError(error, 'INVALID_KEY')).toBe(true);
    expect(seen).toHaveLength(3);
  });

  it('retries a POST only with a key; GET without one', async () => {
    const post: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(post, [503])));
    await expect(api().post('c', { context: { idempotencyKey: false } })).rejects.toThrow();
    expect(post).toEqual([{ method: 'POST', key: null, body: '' }]);

    const get: Seen[] = [];
    server.use(http.get(`${BASE}/c`, sequence(get, [500, 502])));
    expect((await api().get('c')).status).toBe(200);
    expect(get.map((s) => s.key)).toEqual([null, null, null]);
  });

  it('retries 409 only for a request with a key', async () => {
    const keyed: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(keyed, [409])));
    await api().post('c');
    expect(keyed).toHaveLength(2);
    const plain: Seen[] = [];
    server.use(http.put(`${BASE}/c`, sequence(plain, [409])));
    await expect(api().put('c')).rejects.toThrow();
    expect(plain).toHaveLength(1);
  });

  it('honours a short Retry-After and gives up at once beyond the cap', async () => {
    const retries: RetryEvent[] = [];
    server.use(http.post(`${BASE}/c`, sequence([], [429], { 'retry-after': '0' })));
    await api({ hooks: { retry: (e) => retries.push(e) } }).post('c');
    expect(retries[0]).toMatchObject({ attempt: 1, reason: 'status', status: 429, retryAfter: 0 });
    expect(retries[0]?.key).toBeTruthy();

    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(seen, [503], { 'retry-after': '3600' })));
    const error = await api()
      .post('c')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryAfterTooLongError);
    expect(error).toMatchObject({ retryAfter: 3_600_000, key: seen[0]?.key });
    expect(seen).toHaveLength(1);
    // ky has read the body into HTTPError.data: the attempt and its error keep it reachable.
    const tooLong = error as RetryAfterTooLongError;
    expect(tooLong.attempts).toMatchObject([{ attempt: 1, reason: 'status', status: 503 }]);
    expect(isHTTPError(tooLong.cause)).toBe(true);
    expect(tooLong.cause).toBe(tooLong.attempts[0]?.error);
  });

  it('waits by Retry-After only, as the client: not the rate-limit headers of ky past the cap', async () => {
    // Without a Retry-After, ky would read RateLimit-Reset and wait min(it, maxRetryAfter): a
    // silent 60 s wait, beyond the cap with no RetryAfterTooLongError, here until totalTimeout.
    const seen: Seen[] = [];
    const headers = { 'ratelimit-reset': '3600', 'x-ratelimit-reset': '3600' };
    server.use(http.post(`${BASE}/c`, sequence(seen, [429], headers)));
    const started = performance.now();
    const response = await api({ totalTimeout: 2_000 }).post('c');
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('does not start a Retry-After wait that would end after totalTimeout', async () => {
    // ky would wait out the rest of totalTimeout, then throw a TimeoutError: a 60 s Retry-After
    // under the default 30 s totalTimeout hung every such call for 30 s. The client fails at once.
    const budget = new RetryBudget();
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(seen, [503], { 'retry-after': '5' })));
    const started = performance.now();
    const error = await api({ budget, totalTimeout: 2_000 })
      .post('c', { totalTimeout: 1_500 })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(isHTTPError(error) && error.response.status).toBe(503);
    expect(seen).toHaveLength(1);
    expect(budget.available).toBe(500);

    seen.length = 0; // a wait that fits is still made
    server.use(http.post(`${BASE}/c`, sequence(seen, [503], { 'retry-after': '1' })));
    expect((await api({ totalTimeout: 5_000 }).post('c')).status).toBe(200);
    expect(seen).toHaveLength(2);
  });

  it('stops at once when the shared budget is empty', async () => {
    const budget = new RetryBudget({ capacity: 5 });
    server.use(http.get(`${BASE}/down`, sequence([], Array(20).fill(503))));
    await expect(api({ budget }).get('down')).rejects.toThrow(); // one retry, then empty
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/down`, sequence(seen, Array(20).fill(503))));
    const error = await api({ budget })
      .get('down')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RETRY_LIMIT', stop: 'budget' });
    expect(seen).toHaveLength(1);
  });

  it('draws full jitter under the cap, as the client does, not a clamped draw over it', async () => {
    // ky jitters retry.delay(n) and clamps the draw to backoffLimit afterwards: an uncapped
    // delay(n) would make most late retries wait exactly the cap, all clients in step.
    server.use(http.get(`${BASE}/j`, sequence([], [503, 503])));
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const waits: number[] = [];
    const setTimer = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      if (ms !== undefined && ms < 1_000) waits.push(ms);
      return setTimer(fn, ms);
    }) as typeof setTimeout);
    try {
      const jittered = ky.create({
        baseUrl: BASE,
        ...idempotency({ retry: { backoffBase: 40, backoffCap: 40 } }),
      });
      await jittered.get('j');
    } finally {
      vi.restoreAllMocks();
    }
    expect(waits).toEqual([20, 20]); // uniform in [0, min(cap, base × 2^(n−1))), drawn at 0.5
  });

  it('sees every retry when a beforeRetry hook of the instance returns a new Request', async () => {
    // ky skips the beforeRetry hooks after one that returns a Request (ky's readme rewrites the
    // URL so): oncely's ran last, so the retry went unreported and the budget was not refunded.
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/c`, sequence(seen, [503])));
    const rewrite = ({ request }: { request: Request }) => new Request(request.url, request);
    const budget = new RetryBudget();
    const retries: RetryEvent[] = [];
    const api = ky.create({ baseUrl: BASE, hooks: { beforeRetry: [rewrite] } }).extend(
      idempotency({
        budget,
        retry: { backoffBase: 1 },
        hooks: { retry: (e) => retries.push(e) },
      }),
    );
    expect((await api.post('c', { json: { a: 1 } })).status).toBe(200);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.key).toBe(seen[0]?.key);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.key).toBe(seen[0]?.key);
    expect(budget.available).toBe(500); // the retry's 5 tokens given back on success
  });

  it('survives a lost response: the retry with the same key is replayed, one effect', async () => {
    const charges = idempotentServer(() => ({ status: 201, body: { charge: 'ch_9' } }));
    charges.state.loseNext = 1;
    server.use(http.post(`${BASE}/charges`, charges.handle));
    const replays: ReplayEvent[] = [];
    const response = await api({ hooks: { replay: (e) => replays.push(e) } }).post('charges', {
      json: { amount: 1 },
    });
    expect(await response.json()).toEqual({ charge: 'ch_9' });
    expect(isReplayed(response)).toBe(true);
    expect(charges.state.effects).toBe(1);
    expect(replays).toHaveLength(1);
    expect(replays[0]?.attempt).toBe(2);
  });
});

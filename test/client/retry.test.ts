import { delay, HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/create-client.ts';
import { RetryAfterTooLongError } from '../../src/client/errors/retry-after-too-long-error.ts';
import { RetryLimitError } from '../../src/client/errors/retry-limit-error.ts';
import { TimeoutError } from '../../src/client/errors/timeout-error.ts';
import type { RetryEvent } from '../../src/client/events.ts';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { RetryBudget } from '../../src/retry/budget.ts';
import { BASE, record, type Seen, testClient, useServer } from './support/msw.ts';

const server = useServer();

/** Answers `statuses` in turn, then 200. */
function sequence(seen: Seen[], statuses: Array<number | 'network'>, headers?: HeadersInit) {
  return async ({ request }: { request: Request }) => {
    await record(request, seen);
    const next = statuses[seen.length - 1];
    if (next === 'network') return HttpResponse.error();
    if (next === undefined) return HttpResponse.json({ ok: true });
    return new HttpResponse(`status ${next}`, { status: next, headers });
  };
}

describe('what is retried', () => {
  it.each([408, 425, 429, 500, 502, 503, 504])('retries %i', async (status) => {
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/r`, sequence(seen, [status])));
    expect((await testClient().get('/r')).status).toBe(200);
    expect(seen).toHaveLength(2);
  });

  it('retries network errors', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/r`, sequence(seen, ['network', 'network'])));
    expect((await testClient().post('/r', { json: {} })).status).toBe(200);
    expect(seen).toHaveLength(3);
  });

  it('retries 409 only for a request that carries a key', async () => {
    const keyed: Seen[] = [];
    server.use(http.post(`${BASE}/r`, sequence(keyed, [409])));
    expect((await testClient().post('/r')).status).toBe(200);
    expect(keyed).toHaveLength(2);

    const plain: Seen[] = [];
    server.use(http.put(`${BASE}/r`, sequence(plain, [409])));
    const error = await testClient()
      .put('/r')
      .catch((e: unknown) => e);
    expect(isOncelyError(error, 'HTTP_ERROR')).toBe(true);
    expect(plain).toHaveLength(1);
  });

  it.each([400, 401, 403, 404, 410, 413])(
    'does not retry %i, and throws HttpError with the response',
    async (status) => {
      const seen: Seen[] = [];
      server.use(http.post(`${BASE}/r`, sequence(seen, [status])));
      const error = await testClient()
        .post('/r')
        .catch((e: unknown) => e);
      expect(isOncelyError(error, 'HTTP_ERROR')).toBe(true);
      const { response } = error as { response: Response };
      expect(response.status).toBe(status);
      expect(await response.text()).toBe(`status ${status}`);
      expect(seen).toHaveLength(1);
    },
  );

  it('returns the response instead with throwHttpErrors: false', async () => {
    server.use(http.get(`${BASE}/r`, sequence([], [404])));
    expect((await testClient().get('/r', { throwHttpErrors: false })).status).toBe(404);
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/r`, sequence(seen, [503, 503, 503])));
    const client = testClient({ throwHttpErrors: false });
    expect((await client.get('/r')).status).toBe(503);
    expect(seen).toHaveLength(3);
  });

  it('makes 3 attempts in all by default, then throws RetryLimitError with each one', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/r`, sequence(seen, [500, 'network', 503, 503])));
    const error = await testClient()
      .post('/r')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLimitError);
    const limit = error as RetryLimitError;
    expect(limit.code).toBe('RETRY_LIMIT');
    expect(limit.stop).toBe('attempts');
    expect(limit.key).toBe(seen[0]?.key);
    expect(limit.attempts.map((a) => [a.attempt, a.reason, a.status])).toEqual([
      [1, 'status', 500],
      [2, 'network', undefined],
      [3, 'status', 503],
    ]);
    expect(isOncelyError(limit.attempts[1]?.error, 'NETWORK_ERROR')).toBe(true);
    expect(limit.cause).toBe(limit.attempts[2]?.error);
    expect(limit.response?.status).toBe(503);
    expect(seen).toHaveLength(3);
  });

  it('honours attempts, limit, a number and false', async () => {
    for (const [retry, expected] of [
      [{ attempts: 5 }, 5],
      [{ limit: 1 }, 2],
      [3, 4],
      [false, 1],
    ] as const) {
      const seen: Seen[] = [];
      server.use(http.get(`${BASE}/r`, sequence(seen, Array(9).fill(503))));
      await testClient({ retry })
        .get('/r')
        .catch(() => {});
      expect(seen).toHaveLength(expected);
    }
  });

  it('takes retry settings per call over the client', async () => {
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/r`, sequence(seen, Array(9).fill(503))));
    const client = testClient({ retry: { attempts: 4, backoffBase: 1 } });
    await client.get('/r', { retry: false }).catch(() => {});
    expect(seen).toHaveLength(1);
    await client.get('/r', { retry: { attempts: 2 } }).catch(() => {});
    expect(seen).toHaveLength(3);
    await client.get('/r').catch(() => {});
    expect(seen).toHaveLength(7);
  });

  it('throws the failure itself when retrying is not allowed', async () => {
    server.use(http.post(`${BASE}/r`, sequence([], ['network'])));
    const error = await testClient()
      .post('/r', { idempotencyKey: false })
      .catch((e: unknown) => e);
    expect(isOncelyError(error, 'NETWORK_ERROR')).toBe(true);
  });
});

describe('timeouts', () => {
  it('retries an attempt that times out, then reports TimeoutError per attempt', async () => {
    const seen: Seen[] = [];
    server.use(
      http.get(`${BASE}/slow`, async ({ request }) => {
        await record(request, seen);
        if (seen.length < 3) await delay(1_000);
        return HttpResponse.json({});
      }),
    );
    expect((await testClient({ timeout: 50 }).get('/slow')).status).toBe(200);
    expect(seen).toHaveLength(3);

    seen.length = 0;
    const error = await testClient({ timeout: 30, retry: { attempts: 2, backoffBase: 1 } })
      .get('/slow')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLimitError);
    const cause = (error as RetryLimitError).cause;
    expect(cause).toBeInstanceOf(TimeoutError);
    expect(cause).toMatchObject({ code: 'TIMEOUT', scope: 'attempt', timeout: 30 });
  });

  it('gives fetch a signal only when a limit or the caller needs one', async () => {
    const signals: Array<AbortSignal | null | undefined> = [];
    const fetch = async (_input: Request | string, init?: RequestInit) => {
      signals.push(init?.signal);
      return new Response('{}');
    };
    await createClient({ fetch, timeout: false, totalTimeout: false }).post(`${BASE}/r`);
    await createClient({ fetch, timeout: false }).post(`${BASE}/r`);
    await createClient({ fetch }).post(`${BASE}/r`);
    const caller = new AbortController();
    await createClient({ fetch, timeout: false, totalTimeout: false }).post(`${BASE}/r`, {
      signal: caller.signal,
    });
    expect(signals[0]).toBeUndefined();
    expect(signals.slice(1).every((signal) => signal instanceof AbortSignal)).toBe(true);
    caller.abort();
    expect(signals[3]?.aborted).toBe(true);
  });

  it('ends the whole call at totalTimeout', async () => {
    server.use(http.get(`${BASE}/slow`, () => delay('infinite')));
    const started = performance.now();
    const error = await testClient({ timeout: 1_000, totalTimeout: 80 })
      .get('/slow')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TIMEOUT', scope: 'total', timeout: 80 });
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('does not start a wait that would end after totalTimeout', async () => {
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/r`, sequence(seen, [503], { 'retry-after': '2' })));
    const error = await testClient({ totalTimeout: 500 })
      .get('/r')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RETRY_LIMIT', stop: 'deadline' });
    expect(seen).toHaveLength(1);
  });
});

describe('Retry-After', () => {
  it('waits the seconds the server asks, without jitter', async () => {
    const seen: Seen[] = [];
    const retries: RetryEvent[] = [];
    server.use(http.get(`${BASE}/r`, sequence(seen, [429], { 'retry-after': '0' })));
    await testClient({ hooks: { retry: (e) => retries.push(e) } }).get('/r');
    expect(retries[0]).toMatchObject({ delay: 0, retryAfter: 0, status: 429 });

    const dated: RetryEvent[] = [];
    const when = new Date(Date.now() + 1_500).toUTCString();
    server.use(http.get(`${BASE}/r`, sequence([], [503], { 'retry-after': when })));
    const started = Date.now();
    await testClient({ hooks: { retry: (e) => dated.push(e) } }).get('/r');
    expect(dated[0]?.delay).toBeGreaterThan(0);
    expect(dated[0]?.delay).toBeLessThanOrEqual(1_500);
    expect(Date.now() - started).toBeGreaterThanOrEqual((dated[0]?.delay ?? 0) - 5);
  });

  it('gives up at once with RetryAfterTooLongError beyond maxRetryAfter', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/r`, sequence(seen, [503], { 'retry-after': '120' })));
    const started = performance.now();
    const error = await testClient()
      .post('/r')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryAfterTooLongError);
    const tooLong = error as RetryAfterTooLongError;
    expect(tooLong).toMatchObject({ code: 'RETRY_AFTER_TOO_LONG', retryAfter: 120_000 });
    expect(tooLong.maxRetryAfter).toBe(60_000);
    expect(tooLong.retryAt).toBeGreaterThan(Date.now() + 100_000);
    expect(tooLong.key).toBe(seen[0]?.key);
    expect(tooLong.response.status).toBe(503);
    expect(performance.now() - started).toBeLessThan(500);
    expect(seen).toHaveLength(1);
  });

  it('takes the cap from the options', async () => {
    server.use(http.get(`${BASE}/r`, sequence([], [503], { 'retry-after': '1' })));
    const error = await testClient({ retry: { maxRetryAfter: 500 } })
      .get('/r')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RETRY_AFTER_TOO_LONG', retryAfter: 1_000 });
  });
});

describe('cancellation', () => {
  it('rejects with the abort reason during an attempt, and sends nothing more', async () => {
    const seen: Seen[] = [];
    server.use(
      http.post(`${BASE}/slow`, async ({ request }) => {
        await record(request, seen);
        await delay('infinite');
        return HttpResponse.json({});
      }),
    );
    const controller = new AbortController();
    const pending = testClient().post('/slow', { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('AbortError');
    await delay(50);
    expect(seen).toHaveLength(1);
  });

  it('cancels a backoff wait at once, with the reason given', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/r`, sequence(seen, [503, 503], { 'retry-after': '20' })));
    const controller = new AbortController();
    const client = testClient({
      totalTimeout: false,
      hooks: { retry: () => setTimeout(() => controller.abort(new Error('user left')), 20) },
    });
    const started = performance.now();
    const error = await client.post('/r', { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('user left');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(seen).toHaveLength(1);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/r`, sequence(seen, [])));
    const error = await testClient()
      .get('/r', { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect((error as DOMException).name).toBe('AbortError');
    expect(seen).toHaveLength(0);
  });
});

describe('retry budget', () => {
  it('takes 5 tokens a retry, 10 a timeout retry, and gives back on success', () => {
    const budget = new RetryBudget();
    expect(budget.acquire('other')).toBe(5);
    expect(budget.acquire('timeout')).toBe(10);
    expect(budget.available).toBe(485);
    budget.release(10);
    expect(budget.available).toBe(495);
    budget.release();
    expect(budget.available).toBe(496);
    budget.release(100);
    expect(budget.available).toBe(500);
  });

  it('is shared by the calls of one client; when empty failures surface at once', async () => {
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/down`, sequence(seen, Array(50).fill(503))));
    const client = testClient({ budget: { capacity: 10 } });
    await expect(client.get('/down')).rejects.toMatchObject({ stop: 'attempts' }); // 2 retries: 10 tokens
    expect(client.budget?.available).toBe(0);
    seen.length = 0;
    const error = await client.get('/down').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RETRY_LIMIT', stop: 'budget' });
    expect(seen).toHaveLength(1);
  });

  it('refills on success: what the last retry took, or one token', async () => {
    const budget = new RetryBudget({ capacity: 20 });
    const client = testClient({ budget });
    server.use(http.get(`${BASE}/r`, sequence([], [503])));
    await client.get('/r');
    expect(budget.available).toBe(20);
    budget.acquire('timeout');
    server.use(http.get(`${BASE}/ok`, () => HttpResponse.json({})));
    await client.get('/ok');
    expect(budget.available).toBe(11);
  });

  it('can be shared across clients, or disabled', async () => {
    const budget = new RetryBudget({ capacity: 5 });
    server.use(http.get(`${BASE}/down`, sequence([], Array(50).fill(503))));
    await testClient({ budget })
      .get('/down')
      .catch(() => {});
    await expect(testClient({ budget }).get('/down')).rejects.toMatchObject({ stop: 'budget' });
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/down`, sequence(seen, Array(50).fill(503))));
    await testClient({ budget: false })
      .get('/down')
      .catch(() => {});
    expect(seen).toHaveLength(3);
  });
});

describe('request bodies are sent whole on every attempt', () => {
  const bodies: Array<[string, () => BodyInit, string]> = [
    ['string', () => 'plain text', 'plain text'],
    ['ArrayBuffer', () => new TextEncoder().encode('bytes').buffer, 'bytes'],
    ['Uint8Array', () => new TextEncoder().encode('view'), 'view'],
    ['Blob', () => new Blob(['blob']), 'blob'],
    ['URLSearchParams', () => new URLSearchParams({ a: '1', b: '2' }), 'a=1&b=2'],
    [
      'ReadableStream (buffered)',
      () =>
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('stre'));
            controller.enqueue(new TextEncoder().encode('am'));
            controller.close();
          },
        }),
      'stream',
    ],
  ];

  it.each(bodies)('%s', async (_name, body, text) => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/b`, sequence(seen, ['network', 503])));
    await testClient().fetch(`${BASE}/b`, { method: 'POST', body: body() });
    expect(seen.map((s) => s.body)).toEqual([text, text, text]);
  });

  it('FormData', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/b`, sequence(seen, [503])));
    const form = new FormData();
    form.set('field', 'value');
    await testClient().post('/b', { body: form });
    expect(seen).toHaveLength(2);
    for (const s of seen) expect(s.body).toContain('value');
  });

  it('a Request given as input, body and headers included', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/b`, sequence(seen, [503])));
    const request = new Request(`${BASE}/b`, {
      method: 'POST',
      body: 'from request',
      headers: { 'Idempotency-Key': 'req-key' },
    });
    await testClient().fetch(request);
    expect(seen).toEqual([
      { method: 'POST', key: 'req-key', body: 'from request' },
      { method: 'POST', key: 'req-key', body: 'from request' },
    ]);
  });
});

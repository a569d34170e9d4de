import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { type AttemptPlan, runAttempts } from '../../src/client/attempt-loop.ts';
import type { FetchFunction } from '../../src/client/transport.ts';
import { RetryBudget } from '../../src/retry/budget.ts';
import { resolvePolicy } from '../../src/retry/policy.ts';
import { BASE, useServer } from './support/msw.ts';

const server = useServer();

/** The plan the durable-operations layer builds: a known key and a request factory. */
function plan(overrides: Partial<AttemptPlan> = {}): AttemptPlan & { made: number[] } {
  const made: number[] = [];
  return {
    key: 'op-1',
    method: 'POST',
    createRequest: (attempt) => {
      made.push(attempt);
      return new Request(`${BASE}/op`, {
        method: 'POST',
        headers: { 'Idempotency-Key': 'op-1' },
        body: 'payload',
      });
    },
    fetch: (request, init) => fetch(request, init),
    policy: resolvePolicy({ backoffBase: 1, backoffCap: 2 }),
    timeout: 1_000,
    totalTimeout: 5_000,
    made,
    ...overrides,
  };
}

describe('runAttempts', () => {
  it('builds a fresh request per attempt and reports each failure', async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}/op`, () =>
        ++calls < 3 ? new HttpResponse(null, { status: 502 }) : HttpResponse.json({ done: true }),
      ),
    );
    const p = plan();
    const outcome = await runAttempts(p);
    expect(outcome.ok).toBe(true);
    expect(p.made).toEqual([1, 2, 3]);
    expect(outcome.attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 502],
      [2, 502],
    ]);
  });

  it('never throws for a failed request: says whether it is retryable, and the Retry-After', async () => {
    server.use(
      http.post(
        `${BASE}/op`,
        () => new HttpResponse(null, { status: 503, headers: { 'retry-after': '120' } }),
      ),
    );
    const later = await runAttempts(plan());
    expect(later).toMatchObject({ ok: false, retryable: true, retryAfter: 120_000 });
    if (!later.ok) expect(later.error).toMatchObject({ code: 'RETRY_AFTER_TOO_LONG' });

    server.use(http.post(`${BASE}/op`, () => new HttpResponse(null, { status: 404 })));
    const never = await runAttempts(plan());
    expect(never).toMatchObject({ ok: false, retryable: false, retryAfter: undefined });
    if (!never.ok) expect(never.response?.status).toBe(404);
  });

  it('rejects only with the abort reason', async () => {
    server.use(http.post(`${BASE}/op`, () => new HttpResponse(null, { status: 503 })));
    const controller = new AbortController();
    const reason = new Error('cancelled by the operation');
    const pending = runAttempts(
      plan({
        signal: controller.signal,
        totalTimeout: false,
        policy: resolvePolicy({ backoffBase: 10_000, jitter: false }),
      }),
    );
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
  });

  it('charges 10 tokens for a retry after a timeout, 5 otherwise', async () => {
    const budget = new RetryBudget();
    let calls = 0;
    const slowOnce: FetchFunction = (request, init) =>
      ++calls === 1
        ? new Promise((_resolve, reject) =>
            init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
          )
        : fetch(request, init);
    server.use(http.post(`${BASE}/op`, () => HttpResponse.json({})));
    const taken: number[] = [];
    const outcome = await runAttempts(
      plan({
        fetch: slowOnce,
        timeout: 20,
        budget,
        hooks: { retry: () => taken.push(budget.capacity - budget.available) },
      }),
    );
    expect(outcome.ok).toBe(true);
    expect(taken).toEqual([10]);
    expect(budget.available).toBe(500); // refunded on success
  });
});

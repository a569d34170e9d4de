import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { isOperationPendingError } from '../../src/client/operations/errors/index.ts';
import { OperationPendingError } from '../../src/client/operations/errors/operation-pending-error.ts';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { memoryJournal } from '../../src/journal/memory.ts';
import { useServer } from '../client/support/msw.ts';
import { BASE, eventually, onlineEvents, opsClient } from './support.ts';

const server = useServer();

/** Answers `failures` times with `status` (and `headers`), then 201; logs each attempt's key. */
function flaky(failures: number, status = 503, headers?: HeadersInit) {
  const keys: Array<string | null> = [];
  const handler = ({ request }: { request: Request }) => {
    keys.push(request.headers.get('idempotency-key'));
    if (keys.length <= failures) return new HttpResponse(null, { status, headers });
    return HttpResponse.json({ ok: true }, { status: 201 });
  };
  return { keys, handler };
}

const restore: Array<() => void> = [];
afterEach(() => {
  for (const undo of restore.splice(0)) undo();
});

describe('an operation that runs out of in-session attempts', () => {
  it('rejects with OperationPendingError, stays pending, and succeeds in the background with its key', async () => {
    const { keys, handler } = flaky(4);
    server.use(http.post(`${BASE}/charges`, handler));
    const journal = memoryJournal();
    const settled: unknown[] = [];
    const client = opsClient({ journal });
    const op = client.operation('charge', {
      request: (amount: number) => ({ url: '/charges', method: 'POST', json: { amount } }),
      onSuccess: async (response, input, info) => {
        settled.push(await response.json(), input, info.detached, info.attempts);
      },
    });

    const error = await op.run(7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationPendingError);
    expect(isOperationPendingError(error)).toBe(true);
    expect(isOperationPendingError(new Error('x'))).toBe(false);
    const pending = error as OperationPendingError;
    expect(pending.code).toBe('OPERATION_PENDING');
    expect(pending.attempts).toBe(3);
    expect(isOncelyError(pending.cause, 'RETRY_LIMIT')).toBe(true);
    expect(pending.retryAt).toBeGreaterThanOrEqual(Date.now() - 5);
    const [entry] = await journal.list();
    expect(entry).toMatchObject({ state: 'pending', attempts: 3, key: pending.key });
    expect(entry?.lastError).toMatchObject({ code: 'RETRY_LIMIT' });

    await eventually(() => settled.length > 0);
    expect(settled).toEqual([{ ok: true }, 7, true, 5]);
    expect(new Set(keys)).toEqual(new Set([pending.key]));
    expect(keys).toHaveLength(5);
    await eventually(async () => (await journal.list()).length === 0);
    await client.close();
  });

  it('comes back at the time a long Retry-After names', async () => {
    const { keys, handler } = flaky(1, 503, { 'retry-after': '1' });
    server.use(http.post(`${BASE}/charges`, handler));
    const client = opsClient({ retry: { maxRetryAfter: 10, backoffBase: 1 } });
    let done = 0;
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
      onSuccess: () => {
        done = Date.now();
      },
    });
    const started = Date.now();
    const error = (await op.run(undefined).catch((e: unknown) => e)) as OperationPendingError;
    expect(isOncelyError(error.cause, 'RETRY_AFTER_TOO_LONG')).toBe(true);
    expect(error.retryAt).toBeGreaterThanOrEqual(started + 990);
    await eventually(() => done > 0, 3_000);
    expect(done - started).toBeGreaterThanOrEqual(990);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    await client.close();
  });

  it('retries at once when the browser comes back online', async () => {
    const target = onlineEvents(restore);
    const { keys, handler } = flaky(1, 503);
    server.use(http.post(`${BASE}/charges`, handler));
    // A background round a minute away: only the online event can bring it forward.
    const client = opsClient({ retry: false, backgroundRetry: { base: 60_000, cap: 60_000 } });
    let succeeded = false;
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
      onSuccess: () => {
        succeeded = true;
      },
    });
    await expect(op.run(undefined)).rejects.toBeInstanceOf(OperationPendingError);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(keys).toHaveLength(1);
    target.dispatchEvent(new Event('online'));
    await eventually(() => succeeded);
    expect(keys).toEqual([keys[0], keys[0]]);
    await client.close();
  });

  it('stops background retries on close(), leaving the operation in the journal', async () => {
    const { keys, handler } = flaky(100, 503);
    server.use(http.post(`${BASE}/charges`, handler));
    const journal = memoryJournal();
    const client = opsClient({ journal, retry: false, backgroundRetry: { base: 30, cap: 30 } });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    await expect(op.run(undefined)).rejects.toBeInstanceOf(OperationPendingError);
    await client.close();
    const seen = keys.length;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(keys.length).toBe(seen);
    expect((await journal.list())[0]?.state).toBe('pending');
  });

  it('with backgroundRetry: false, leaves it to the next resume()', async () => {
    const { keys, handler } = flaky(1, 503);
    server.use(http.post(`${BASE}/charges`, handler));
    const journal = memoryJournal();
    const client = opsClient({ journal, retry: false, backgroundRetry: false });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    const error = (await op.run(undefined).catch((e: unknown) => e)) as OperationPendingError;
    expect(error.retryAt).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(keys).toHaveLength(1);
    const summary = await client.resume();
    expect(summary.succeeded.map((s) => s.key)).toEqual([error.key]);
    expect(keys).toEqual([error.key, error.key]);
    expect(await journal.list()).toEqual([]);
  });

  it('moves an operation past its lifetime to expired instead of sending it again', async () => {
    const { keys, handler } = flaky(100, 503);
    server.use(http.post(`${BASE}/charges`, handler));
    const journal = memoryJournal();
    const expired: string[] = [];
    const client = opsClient({
      journal,
      retry: false,
      operationLifetimeMs: 60,
      backgroundRetry: { base: 400, cap: 400 },
      onExpired: (entry) => {
        expired.push(entry.state);
      },
    });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    await expect(op.run(undefined)).rejects.toBeInstanceOf(OperationPendingError);
    await eventually(() => expired.length > 0);
    expect(expired).toEqual(['expired']);
    expect(keys).toHaveLength(1);
    expect((await journal.list())[0]?.state).toBe('expired');
    await client.close();
  });

  it('reports the expiry on time even when the server asked to come back later', async () => {
    const { keys, handler } = flaky(100, 503, { 'retry-after': '3600' });
    server.use(http.post(`${BASE}/charges`, handler));
    let expiredAt = 0;
    const client = opsClient({
      retry: { maxRetryAfter: 10 },
      operationLifetimeMs: 80,
      onExpired: () => {
        expiredAt = Date.now();
      },
    });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    const started = Date.now();
    await expect(op.run(undefined)).rejects.toBeInstanceOf(OperationPendingError);
    await eventually(() => expiredAt > 0, 2_000);
    expect(expiredAt - started).toBeLessThan(1_000);
    expect(keys).toHaveLength(1);
    await client.close();
  });
});

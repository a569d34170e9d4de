import { runInNewContext } from 'node:vm';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import {
  HttpError,
  isHttpError,
  isRetryAfterTooLongError,
  isRetryLimitError,
  isTimeoutError,
  KeyRequiredError,
  KeyReusedError,
} from '../../src/client/errors/index.ts';
import type {
  AttemptEvent,
  GiveUpEvent,
  ReplayEvent,
  RetryEvent,
} from '../../src/client/events.ts';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { PROBLEM_BASE_URI, PROBLEM_TYPES, REPLAYED_HEADER } from '../../src/protocol.ts';
import { BASE, testClient, useServer } from './support/msw.ts';

const server = useServer();

describe('typed errors', () => {
  it('422 to a request with a key is KeyReusedError, never retried', async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}/e`, () => {
        calls++;
        return new HttpResponse(null, { status: 422 });
      }),
    );
    const error = await testClient()
      .post('/e', { idempotencyKey: 'k-422' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyReusedError);
    expect(error).toMatchObject({ code: 'KEY_REUSED', key: 'k-422', status: 422 });
    expect(isHttpError(error)).toBe(true);
    expect(calls).toBe(1);
  });

  it('422 without a key is a plain HttpError', async () => {
    server.use(http.put(`${BASE}/e`, () => new HttpResponse(null, { status: 422 })));
    const error = await testClient()
      .put('/e')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).not.toBeInstanceOf(KeyReusedError);
    expect((error as HttpError).code).toBe('HTTP_ERROR');
  });

  it('400 with the idempotency-key-missing problem type is KeyRequiredError', async () => {
    server.use(
      http.post(`${BASE}/e`, () =>
        HttpResponse.json(
          {
            type: `${PROBLEM_BASE_URI}${PROBLEM_TYPES.missing}`,
            title: 'Idempotency-Key required',
          },
          { status: 400, headers: { 'content-type': 'application/problem+json' } },
        ),
      ),
    );
    const error = await testClient()
      .post('/e', { idempotencyKey: false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyRequiredError);
    expect((error as KeyRequiredError).code).toBe('KEY_REQUIRED');
    // The body is still readable by the caller.
    expect(await (error as KeyRequiredError).response.json()).toMatchObject({
      title: 'Idempotency-Key required',
    });
  });

  it('guards match by code, across realms', () => {
    const foreign = runInNewContext(`
      const error = new Error('from another realm');
      Object.defineProperty(error, Symbol.for('oncely.error'), { value: true });
      error.code = 'RETRY_LIMIT';
      error;
    `);
    expect(foreign instanceof Error).toBe(false);
    expect(isRetryLimitError(foreign)).toBe(true);
    expect(isOncelyError(foreign, 'RETRY_LIMIT')).toBe(true);
    expect(isTimeoutError(foreign)).toBe(false);
    expect(isRetryAfterTooLongError(foreign)).toBe(false);
    expect(isHttpError({ code: 'HTTP_ERROR' })).toBe(false); // not branded
  });
});

describe('a hook that throws', () => {
  it('fails the call with its error, on a retry too, and nothing more is sent or retried', async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}/hook`, () => {
        calls++;
        return new HttpResponse(null, { status: 503 });
      }),
    );
    const retries: RetryEvent[] = [];
    const broken = new Error('attempt hook broke');
    const client = testClient({
      hooks: {
        attempt: (e) => {
          if (e.attempt === 2) throw broken;
        },
        retry: (e) => retries.push(e),
      },
    });
    await expect(client.post('/hook', { idempotencyKey: 'hook-1' })).rejects.toBe(broken);
    expect(calls).toBe(1);
    expect(retries.map((e) => e.attempt)).toEqual([1]);
  });
});

describe('fetch refusals', () => {
  it('a GET with a body or a forbidden method throws TypeError at once, never retried', async () => {
    let calls = 0;
    server.use(http.all(`${BASE}/refused`, () => void calls++));
    const client = testClient();
    await expect(client.get('/refused', { body: 'x' })).rejects.toThrow(TypeError);
    await expect(client.fetch('/refused', { method: 'TRACE' })).rejects.toThrow(TypeError);
    await expect(client.fetch('/refused', { method: 'BAD METHOD' })).rejects.toThrow(TypeError);
    expect(calls).toBe(0);
  });
});

describe('events carry the key', () => {
  it('attempt, retry, replay and give-up', async () => {
    const attempts: AttemptEvent[] = [];
    const retries: RetryEvent[] = [];
    const replays: ReplayEvent[] = [];
    const giveUps: GiveUpEvent[] = [];
    const client = testClient({
      hooks: {
        attempt: (e) => attempts.push(e),
        retry: (e) => retries.push(e),
        replay: (e) => replays.push(e),
        giveUp: (e) => giveUps.push(e),
      },
    });
    let calls = 0;
    server.use(
      http.post(`${BASE}/ev`, () =>
        ++calls === 1
          ? new HttpResponse(null, { status: 503 })
          : HttpResponse.json({}, { headers: { [REPLAYED_HEADER]: 'true' } }),
      ),
    );
    await client.post('/ev', { idempotencyKey: 'ev-1' });
    expect(attempts.map((e) => [e.key, e.attempt, e.request.method])).toEqual([
      ['ev-1', 1, 'POST'],
      ['ev-1', 2, 'POST'],
    ]);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ key: 'ev-1', attempt: 1, reason: 'status', status: 503 });
    expect(retries[0]?.delay).toBeGreaterThanOrEqual(0);
    expect(replays).toMatchObject([{ key: 'ev-1', attempt: 2 }]);
    expect(giveUps).toHaveLength(0);

    server.use(http.post(`${BASE}/ev`, () => HttpResponse.error()));
    const error = await client.post('/ev', { idempotencyKey: 'ev-2' }).catch((e: unknown) => e);
    expect(giveUps).toHaveLength(1);
    expect(giveUps[0]).toMatchObject({ key: 'ev-2', error });
    expect(giveUps[0]?.attempts).toHaveLength(3);
    expect(retries.slice(1).map((e) => e.reason)).toEqual(['network', 'network']);
  });
});

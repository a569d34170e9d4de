import { describe, expect, it } from 'vitest';
import { isOncelyError } from '../../../src/errors/oncely-error.ts';
import { idempotency as expressIdempotency } from '../../../src/server/adapters/express.ts';
import { idempotency as honoIdempotency } from '../../../src/server/adapters/hono.ts';
import { idempotency as nodeIdempotency } from '../../../src/server/adapters/node-http.ts';
import { createEngine } from '../../../src/server/core/engine.ts';
import { idempotency } from '../../../src/server/core/idempotency.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';
import type { Store } from '../../../src/server/stores/store.ts';
import { StoreError } from '../../../src/server/stores/store.ts';
import { post, problemOf, setup } from './helpers.ts';

type Failure = 'rejects' | 'throws';

/**
 * A store whose named methods fail, as one that is down; the others work. A network store
 * rejects; a synchronous one (memory, SQLite) throws: the core must take both.
 */
function brokenStore(failing: (keyof Store)[], how: Failure): Store {
  const inner = memoryStore();
  const store = { ...inner };
  for (const method of failing) {
    (store as Record<string, unknown>)[method] =
      how === 'rejects'
        ? async () => {
            throw new StoreError(method, 'connection refused');
          }
        : () => {
            throw new StoreError(method, 'database is locked');
          };
  }
  return store;
}

describe.each<Failure>(['rejects', 'throws'])('a store that is down (it %s)', (how) => {
  it('answers 503 idempotency-store-unavailable and does not run the handler', async () => {
    const t = setup(undefined, { store: brokenStore(['claim'], how) });
    const response = await t.guarded(post('k'));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await problemOf(response)).toMatchObject({
      type: 'https://oncely.dev/problems/idempotency-store-unavailable',
      status: 503,
      key: 'k',
    });
    expect(t.runs).toBe(0);
    const event = t.events.find((e) => e.type === 'store-error');
    expect(event).toMatchObject({ operation: 'claim', key: 'k', scope: 'tenant-1' });
    expect(isOncelyError((event as { error: unknown }).error, 'STORE_UNAVAILABLE')).toBe(true);
  });

  it('still answers the client when storing the response fails, and reports it', async () => {
    const t = setup(async () => new Response('made', { status: 201 }), {
      store: brokenStore(['complete'], how),
    });
    const response = await t.guarded(post('k'));
    expect(await response.text()).toBe('made');
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'store-error', operation: 'complete' }),
    );
  });

  it('rethrows the handler error even when the release fails', async () => {
    const t = setup(
      async () => {
        throw new Error('handler broke');
      },
      { store: brokenStore(['release'], how) },
    );
    await expect(t.guarded(post('k'))).rejects.toThrow('handler broke');
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'store-error', operation: 'release' }),
    );
  });

  it('answers 503 when a takeover fails', async () => {
    let time = 0;
    const inner = memoryStore({ now: () => time });
    const store: Store = {
      ...inner,
      takeOver:
        how === 'rejects'
          ? async () => {
              throw new Error('down');
            }
          : () => {
              throw new Error('down');
            },
    };
    const t = setup(async () => new Promise<Response>(() => {}), { store, now: () => time });
    void t.guarded(post('k'));
    await new Promise((resolve) => setTimeout(resolve, 1));
    time += 120_000;
    expect((await t.guarded(post('k'))).status).toBe(503);
  });

  it('ignores an onEvent hook that throws', async () => {
    const t = setup(undefined, {
      onEvent: () => {
        throw new Error('observer broke');
      },
    });
    expect((await t.guarded(post('k'))).status).toBe(201);
  });
});

describe('problem shaping', () => {
  it('answers in the API’s own envelope through the problem option', async () => {
    const t = setup(undefined, {
      problem: ({ status, name, detail, key }) =>
        Response.json(
          { error: { type: 'idempotency_error', code: name, message: detail, key } },
          { status },
        ),
    });
    const missing = await t.guarded(post(undefined));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({
      error: { type: 'idempotency_error', code: 'idempotency-key-missing' },
    });
  });

  it('accepts a plain { status, headers, body } and adds Retry-After to a 409', async () => {
    let release!: () => void;
    const t = setup(
      async () => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return new Response('x');
      },
      {
        problem: (problem) => ({
          status: problem.status,
          headers: { 'content-type': 'application/vnd.error+json' },
          body: JSON.stringify({ code: problem.name, retryAfter: problem.retryAfter }),
        }),
        problemBaseUri: 'https://api.example.com/errors/',
      },
    );
    void t.guarded(post('k'));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const busy = await t.guarded(post('k'));
    expect(busy.status).toBe(409);
    expect(busy.headers.get('content-type')).toBe('application/vnd.error+json');
    expect(busy.headers.get('retry-after')).toBe('60');
    expect(await busy.json()).toEqual({ code: 'idempotency-key-in-use', retryAfter: 60 });
    release();
  });

  it('answers with problem+json when the problem builder throws, and logs it', async () => {
    const warnings: string[] = [];
    const t = setup(undefined, {
      problem: () => {
        throw new Error('envelope broke');
      },
      logger: { warn: (message) => warnings.push(message) },
    });
    const missing = await t.guarded(post(undefined));
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(warnings.join('\n')).toContain('envelope broke');
  });

  it('answers with problem+json when the Response the problem builder returned cannot be read', async () => {
    const warnings: string[] = [];
    const broken = () =>
      new ReadableStream({
        pull(controller) {
          controller.error(new Error('envelope body broke'));
        },
      });
    const t = setup(undefined, {
      problem: ({ status }) => new Response(broken(), { status }),
      logger: { warn: (message) => warnings.push(message) },
    });
    const missing = await t.guarded(post(undefined));
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(warnings.join('\n')).toContain('envelope body broke');
  });

  it('uses problemBaseUri for the type URIs', async () => {
    const t = setup(undefined, { problemBaseUri: 'https://api.example.com/errors/' });
    expect(await problemOf(await t.guarded(post('')))).toMatchObject({
      type: 'https://api.example.com/errors/idempotency-key-invalid',
    });
  });
});

describe('options', () => {
  it('refuses transactional mode on a store without transact()', () => {
    expect(() =>
      createEngine({ transactional: true, store: memoryStore(), scope: () => 's' }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', option: 'transactional' }));
  });

  it.each([
    ['leaseMs', { leaseMs: 0 }],
    ['ttlMs', { ttlMs: Number.NaN }],
    ['maxBodyBytes', { maxBodyBytes: -1 }],
    ['wait.pollMs', { wait: { pollMs: 0 } }],
  ])('refuses a bad %s', (option, options) => {
    expect(() => createEngine({ scope: () => 's', ...options })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', option }),
    );
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses maxRequestBytes %s in the web wrapper and every adapter that takes it',
    (bad) => {
      const options = { store: memoryStore(), scope: () => 's', maxRequestBytes: bad };
      const refused = expect.objectContaining({
        code: 'INVALID_OPTIONS',
        option: 'maxRequestBytes',
      });
      expect(() => idempotency(options)).toThrow(refused);
      expect(() => expressIdempotency(options)).toThrow(refused);
      expect(() => honoIdempotency(options)).toThrow(refused);
      expect(() => nodeIdempotency(options)).toThrow(refused);
    },
  );
});

import { describe, expect, it } from 'vitest';
import { post, problemOf, setup } from './helpers.ts';

const BASE = 'https://oncely.dev/problems/';

describe('idempotency(): the answers table', () => {
  it('runs the handler once for a key and replays its response with Idempotent-Replayed', async () => {
    const t = setup();
    const first = await t.guarded(post('k-1'));
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const firstBody = await first.text();
    const again = await t.guarded(post('k-1'));
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstBody);
    expect(t.runs).toBe(1);
    expect(t.types()).toEqual(['claim', 'complete', 'replay']);
  });

  it('answers 400 idempotency-key-missing on POST and PATCH without a key, without running', async () => {
    const t = setup();
    for (const method of ['POST', 'PATCH']) {
      const response = await t.guarded(post(undefined, { a: 1 }, { method }));
      expect(response.status).toBe(400);
      const problem = await problemOf(response);
      expect(problem).toMatchObject({ type: `${BASE}idempotency-key-missing`, status: 400 });
      expect(problem.title).toEqual(expect.any(String));
      expect(problem.detail).toEqual(expect.any(String));
    }
    expect(t.runs).toBe(0);
  });

  it('lets keyless POST through when required is false', async () => {
    const t = setup(undefined, { required: false });
    expect((await t.guarded(post(undefined))).status).toBe(201);
    expect((await t.guarded(post(undefined))).status).toBe(201);
    expect(t.runs).toBe(2);
  });

  it('requires the key on the configured methods only', async () => {
    const t = setup(undefined, { methods: ['PUT'] });
    expect((await t.guarded(post(undefined, {}, { method: 'POST' }))).status).toBe(201);
    expect((await t.guarded(post(undefined, {}, { method: 'PUT' }))).status).toBe(400);
  });

  it.each([
    ['empty', ''],
    ['two values', 'a, b'],
    ['two sf-strings', '"a", "b"'],
    ['over 255 characters', 'k'.repeat(256)],
    ['a space inside an sf-string', '"a b"'],
    ['non-ASCII', 'clé'],
    ['an unterminated sf-string', '"abc'],
    ['text after the closing quote', '"abc"x'],
  ])('answers 400 idempotency-key-invalid for %s', async (_name, value) => {
    const t = setup();
    const response = await t.guarded(
      new Request('http://api.test/charges', {
        method: 'POST',
        headers: { 'idempotency-key': value, 'content-type': 'application/json' },
        body: '{}',
      }),
    );
    expect(response.status).toBe(400);
    expect(await problemOf(response)).toMatchObject({ type: `${BASE}idempotency-key-invalid` });
    expect(t.runs).toBe(0);
  });

  it('accepts 255 characters, and reads the plain and sf-string forms as one key', async () => {
    const t = setup();
    const long = 'k'.repeat(255);
    expect((await t.guarded(post(long))).status).toBe(201);
    // The record is completed when the body has been read to its end.
    await (await t.guarded(post('"a\\"b"'))).text();
    const again = await t.guarded(post('a"b'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(t.runs).toBe(2);
  });

  it('answers 409 with Retry-After while the first request runs', async () => {
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const t = setup(
      async () => {
        await gate;
        return Response.json({ ok: true }, { status: 201 });
      },
      { leaseMs: 30_000 },
    );
    const first = t.guarded(post('busy'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await t.guarded(post('busy'));
    expect(second.status).toBe(409);
    const retryAfter = Number(second.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(29);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(await problemOf(second)).toMatchObject({
      type: `${BASE}idempotency-key-in-use`,
      key: 'busy',
    });
    finish();
    expect((await first).status).toBe(201);
    expect(t.runs).toBe(1);
    expect(t.types()).toContain('conflict');
  });

  it('answers 422 for the key reused with another body, path or method, never showing the response', async () => {
    const t = setup(async () => Response.json({ secret: 'first response' }, { status: 201 }));
    await (await t.guarded(post('reuse', { amount: 1 }))).text();
    const cases = [
      post('reuse', { amount: 2 }),
      post('reuse', { amount: 1 }, { path: '/refunds' }),
      post('reuse', { amount: 1 }, { path: '/charges?x=1' }),
      post('reuse', { amount: 1 }, { method: 'PATCH' }),
    ];
    for (const request of cases) {
      const response = await t.guarded(request);
      expect(response.status).toBe(422);
      const text = await response.text();
      expect(text).not.toContain('first response');
      expect(JSON.parse(text)).toMatchObject({ type: `${BASE}idempotency-key-reused` });
    }
    expect(t.runs).toBe(1);
    expect(t.types().filter((type) => type === 'mismatch')).toHaveLength(4);
  });

  it.each([200, 201, 202, 204, 301, 303, 400, 404, 410, 422])(
    'stores and replays a %i',
    async (status) => {
      const t = setup(async () =>
        status === 204 ? new Response(null, { status }) : new Response(`s${status}`, { status }),
      );
      const first = await t.guarded(post('k'));
      const firstText = await first.text();
      const again = await t.guarded(post('k'));
      expect(again.status).toBe(status);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await again.text()).toBe(firstText);
      expect(t.runs).toBe(1);
    },
  );

  it.each([401, 403, 408, 409, 429, 500, 502, 503])(
    'releases the key after a %i: a retry runs again',
    async (status) => {
      const t = setup(async () => new Response(`s${status}`, { status }));
      const first = await t.guarded(post('k'));
      expect(first.status).toBe(status);
      expect(await first.text()).toBe(`s${status}`);
      const again = await t.guarded(post('k'));
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      expect(t.runs).toBe(2);
      const release = t.events.find((event) => event.type === 'release');
      expect(release).toMatchObject({
        reason: status >= 500 ? 'server-error' : 'status-not-stored',
        status,
      });
    },
  );

  it('stores a 5xx with storeServerErrors, as Stripe v1 does', async () => {
    const t = setup(async () => new Response('down', { status: 500 }), { storeServerErrors: true });
    await (await t.guarded(post('k'))).text();
    const again = await t.guarded(post('k'));
    expect(again.status).toBe(500);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(t.runs).toBe(1);
  });

  it('releases the key when the handler throws, and throws on', async () => {
    let fail = true;
    const t = setup(async () => {
      if (fail) throw new Error('handler broke');
      return new Response('ok', { status: 201 });
    });
    await expect(t.guarded(post('k'))).rejects.toThrow('handler broke');
    fail = false;
    expect((await t.guarded(post('k'))).status).toBe(201);
    expect(t.runs).toBe(2);
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'release', reason: 'handler-threw' }),
    );
  });

  it('releases the key when the handler answers a network error (Response.error())', async () => {
    // Status 0 is no answer: stored, every retry for ttlMs failed to build its replay (a
    // RangeError), and the handler never ran again.
    let fail = true;
    const t = setup(async () => (fail ? Response.error() : new Response('ok', { status: 201 })));
    expect((await t.guarded(post('k'))).type).toBe('error');
    fail = false;
    const retry = await t.guarded(post('k'));
    expect(retry.status).toBe(201);
    expect(await retry.text()).toBe('ok');
    expect(t.runs).toBe(2);
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'release', reason: 'aborted' }),
    );
  });

  it.each(['GET', 'HEAD', 'OPTIONS'])(
    'ignores a key on %s: the handler always runs',
    async (method) => {
      const t = setup(async () => new Response(method === 'HEAD' ? null : 'ok'));
      for (let i = 0; i < 2; i++) {
        const response = await t.guarded(post('k', undefined, { method }));
        expect(response.status).toBe(200);
        expect(response.headers.get('idempotent-replayed')).toBeNull();
      }
      expect(t.runs).toBe(2);
      expect(t.events).toEqual([]);
    },
  );

  it('guards PUT and DELETE when they carry a key, and lets them through without one', async () => {
    const t = setup(async () => new Response('done'));
    for (const method of ['PUT', 'DELETE']) {
      await (await t.guarded(post(`k-${method}`, 'x', { method }))).text();
      const again = await t.guarded(post(`k-${method}`, 'x', { method }));
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect((await t.guarded(post(undefined, 'x', { method }))).status).toBe(200);
    }
    expect(t.runs).toBe(4);
  });

  it('hands the handler a request whose body is still readable, and the key and scope', async () => {
    const seen: unknown[] = [];
    const t = setup(async (request, context) => {
      seen.push(await request.json(), context.key, context.scope, context.tx);
      return new Response('ok');
    });
    await t.guarded(post('k', { deep: { a: [1, 2] } }));
    expect(seen).toEqual([{ deep: { a: [1, 2] } }, 'k', 'tenant-1', undefined]);
  });
});

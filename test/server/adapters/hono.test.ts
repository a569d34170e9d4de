import type { Context } from 'hono';
import { Hono } from 'hono';
import { describe, expect, it, onTestFinished } from 'vitest';
import { idempotency } from '../../../src/server/adapters/hono.ts';
import { type Fixture, testAdapter } from './behaviour.ts';
import { response, serveFetch } from './serve.ts';

/** How the handler reads the body the middleware has read before it. */
type Read = (c: Context) => Promise<string>;

const latin1 = (buffer: ArrayBuffer) => Buffer.from(buffer).toString('latin1');

function app(fixture: Fixture, read: Read) {
  const hono = new Hono();
  hono.onError((_error, c) => c.text('failed', 500));
  hono.use(
    '/charges',
    idempotency({ ...fixture.options, scope: (c) => fixture.scope(c.req.header('x-api-key')) }),
  );
  hono.all('/charges', async (c) => {
    const reply = await fixture.handle({
      method: c.req.method,
      header: (name) => c.req.header(name),
      body: await read(c),
    });
    return response(reply);
  });
  return hono;
}

// Served by @hono/node-server: the middleware reads and captures at Node's level.
testAdapter('hono (@hono/node-server, c.req.arrayBuffer())', (fixture) =>
  serveFetch(app(fixture, async (c) => latin1(await c.req.arrayBuffer())).fetch),
);

// The handler reads the raw web Request, whose stream the middleware gave back.
testAdapter('hono (@hono/node-server, c.req.raw)', (fixture) =>
  serveFetch(app(fixture, async (c) => latin1(await c.req.raw.arrayBuffer())).fetch),
);

// No Node bindings in c.env (as on Bun, Deno or Workers): the web path, with the core's capture.
testAdapter('hono (web Request and Response)', (fixture) => {
  const hono = app(fixture, async (c) =>
    c.req.header('content-type')?.includes('json')
      ? JSON.stringify(await c.req.json())
      : latin1(await c.req.arrayBuffer()),
  );
  return serveFetch((request) => hono.fetch(request));
});

describe('hono adapter on @hono/node-server', () => {
  it('refuses a request body over maxRequestBytes with 413 problem+json, without running', async () => {
    let runs = 0;
    const hono = new Hono();
    hono.post(
      '/x',
      idempotency({ scope: () => 't', logger: { warn() {} }, maxRequestBytes: 10 }),
      (c) => {
        runs++;
        return c.text('ran');
      },
    );
    const server = await serveFetch(hono.fetch);
    onTestFinished(() => server.close());
    const send = (body: string) =>
      fetch(`${server.url}/x`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body });
    const refused = await send('x'.repeat(11));
    expect(refused.status).toBe(413);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(runs).toBe(0);
    expect(await (await send('x'.repeat(10))).text()).toBe('ran');
  });

  it('cancels an endless stream the client left before it began, and frees the key', async () => {
    let runs = 0;
    let cancelled = 0;
    const hono = new Hono();
    hono.post(
      '/events',
      idempotency({ scope: () => 't', logger: { warn() {} }, leaseMs: 200 }),
      async () => {
        runs++;
        // Still working when the client leaves; then it answers with a stream that never ends.
        await new Promise((resolve) => setTimeout(resolve, 100));
        let timer: ReturnType<typeof setInterval> | undefined;
        const events = new ReadableStream<Uint8Array>({
          start(controller) {
            timer = setInterval(
              () => controller.enqueue(new TextEncoder().encode('data: x\n\n')),
              5,
            );
          },
          cancel() {
            cancelled++;
            clearInterval(timer);
          },
        });
        return new Response(events, { headers: { 'content-type': 'text/event-stream' } });
      },
    );
    const server = await serveFetch(hono.fetch);
    onTestFinished(() => server.close());
    const send = (signal?: AbortSignal) =>
      fetch(`${server.url}/events`, {
        method: 'POST',
        headers: { 'idempotency-key': 'sse' },
        body: 'b',
        signal,
      });
    await send(AbortSignal.timeout(30)).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(cancelled).toBe(1);
    const controller = new AbortController();
    const retry = await send(controller.signal);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    controller.abort();
    expect(runs).toBe(2);
  });
});

describe('hono adapter on the web path (no Node bindings)', () => {
  function guarded(maxRequestBytes: number) {
    const seen: unknown[] = [];
    const hono = new Hono();
    hono.post(
      '/x',
      idempotency({ scope: () => 't', logger: { warn() {} }, maxRequestBytes }),
      async (c) => {
        seen.push(await c.req.json());
        return c.text('ran');
      },
    );
    return { hono, seen };
  }
  const stream = (chunks: string[], endless = false) => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next !== undefined) controller.enqueue(new TextEncoder().encode(next));
        else if (!endless) controller.close();
        else controller.enqueue(new TextEncoder().encode(' '));
      },
      cancel() {
        cancelled = true;
      },
    });
    return { body, cancelled: () => cancelled };
  };
  const post = (hono: Hono, key: string, body: BodyInit, headers: Record<string, string> = {}) =>
    hono.request('/x', {
      method: 'POST',
      headers: { 'idempotency-key': key, 'content-type': 'application/json', ...headers },
      body,
      duplex: 'half',
    } as RequestInit);

  it('refuses a streamed body past maxRequestBytes with 413, reading no further, without running', async () => {
    const { hono, seen } = guarded(16);
    const endless = stream(['{"amount":', '1200'], true);
    const refused = await post(hono, 'k', endless.body);
    expect(refused.status).toBe(413);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(endless.cancelled()).toBe(true);
    expect(seen).toEqual([]);
    // Not claimed: the same key with a body within the limit runs.
    const ok = await post(hono, 'k', stream(['{"amount":', '12}']).body);
    expect(await ok.text()).toBe('ran');
    expect(seen).toEqual([{ amount: 12 }]);
  });

  it('refuses a Content-Length past the limit before reading, and lets the handler read a body within it', async () => {
    const { hono, seen } = guarded(16);
    const refused = await post(hono, 'a', '{"amount":123456789}');
    expect(refused.status).toBe(413);
    const ok = await post(hono, 'b', '{"amount":1}');
    expect(await ok.text()).toBe('ran');
    const replay = await post(hono, 'b', '{ "amount": 1 }');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(seen).toEqual([{ amount: 1 }]);
  });
});

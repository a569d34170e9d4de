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
});

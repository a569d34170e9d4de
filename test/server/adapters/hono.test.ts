import { Hono } from 'hono';
import { idempotency } from '../../../src/server/adapters/hono.ts';
import { type Fixture, testAdapter } from './behaviour.ts';
import { response, serveFetch } from './serve.ts';

function app(fixture: Fixture) {
  const hono = new Hono();
  hono.onError((_error, c) => c.text('failed', 500));
  hono.use(
    '/charges',
    idempotency({ ...fixture.options, scope: (c) => fixture.scope(c.req.header('x-api-key')) }),
  );
  hono.all('/charges', async (c) => {
    // Read again after the middleware read it: Hono caches the body.
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const reply = await fixture.handle({
      method: c.req.method,
      header: (name) => c.req.header(name),
      body: Buffer.from(bytes).toString('latin1'),
    });
    return response(reply);
  });
  return hono;
}

testAdapter('hono (@hono/node-server)', (fixture) => serveFetch(app(fixture).fetch));

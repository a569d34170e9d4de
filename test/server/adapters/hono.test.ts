import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { idempotency } from '../../../src/server/adapters/hono.ts';
import { type Fixture, type Reply, testAdapter } from './behaviour.ts';

function response(reply: Reply): Response {
  const headers = new Headers();
  for (const [name, value] of reply.headers) headers.append(name, value);
  const chunks = reply.chunks;
  // Written chunk by chunk, as a handler streaming its answer would.
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return new Response(body, { status: reply.status, headers });
}

function app(fixture: Fixture) {
  const hono = new Hono();
  hono.onError((_error, c) => c.text('failed', 500));
  hono.use(
    '/charges',
    idempotency({ ...fixture.options, scope: (c) => fixture.scope(c.req.header('x-api-key')) }),
  );
  hono.all('/charges', async (c) => {
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

testAdapter('hono (@hono/node-server)', async (fixture) => {
  const hono = app(fixture);
  let server!: ReturnType<typeof serve>;
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve(info.port),
    );
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      }),
  };
});

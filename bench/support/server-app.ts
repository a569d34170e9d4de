/**
 * One benchmark server, run in a process of its own (bench/support/server-process.ts) so that its
 * work never shares the load generator's event loop. `node bench/support/server-app.ts '<json>'`
 * with a {@link ServerConfig}; it tells its parent the port over IPC and exits on disconnect.
 *
 * Every variant serves the same handler: POST /charges reads the JSON body and answers 201 with a
 * new charge id. Only the idempotency layer in front of it changes.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import {
  idempotency as expressIdempotency,
  getSharedIdempotencyService,
} from 'express-idempotency';
import { type Context, Hono } from 'hono';
import type { ServerConfig } from './server-config.ts';
import { ROUTE } from './server-config.ts';
import { answerControlMessages } from './server-control.ts';
import { nodeIdempotency } from './server-peers.ts';
import { type BenchStore, benchStore } from './server-stores.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
let charges = 0;
let store: BenchStore | undefined;
if (config.guard === 'oncely') store = await benchStore(config);
const scope = () => 'bench';
const workMs = (config.workMicros ?? 0) / 1000;

/** The calibration cases' fixed extra cost: a busy wait, as synchronous work in a handler is. */
function work(): void {
  if (workMs === 0) return;
  const end = performance.now() + workMs;
  while (performance.now() < end);
}

const server = config.framework === 'express' ? await expressServer() : await honoServer();
server.keepAliveTimeout = 60_000;
answerControlMessages();
process.send?.({ port: (server.address() as AddressInfo).port });
process.on('disconnect', () => {
  server.closeAllConnections();
  server.close(() => void (store?.close() ?? Promise.resolve()).finally(() => process.exit(0)));
});

async function expressServer(): Promise<Server> {
  const app = express();
  app.use(express.json());
  const handler: express.RequestHandler = (req, res) => {
    // express-idempotency calls the handler on a replay too; its README has the handler check.
    if (config.guard === 'express-idempotency' && getSharedIdempotencyService().isHit(req)) return;
    const { amount } = req.body as { amount: number };
    work();
    res.status(201).json({ id: `ch_${++charges}`, amount });
  };
  if (config.guard === 'none') app.post(ROUTE, handler);
  else if (config.guard === 'express-idempotency') app.post(ROUTE, expressIdempotency(), handler);
  else if (config.guard === 'node-idempotency') app.post(ROUTE, nodeIdempotency(), handler);
  else {
    // Imported only here: a bare or peer server does not load oncely at all.
    const { idempotency } = await import('../../src/server/adapters/express.ts');
    app.post(ROUTE, idempotency({ store: store?.store, scope }), handler);
  }
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function honoServer(): Promise<Server> {
  const app = new Hono();
  const handler = async (c: Context) => {
    const { amount } = await c.req.json<{ amount: number }>();
    work();
    return c.json({ id: `ch_${++charges}`, amount }, 201);
  };
  if (config.guard === 'none') app.post(ROUTE, handler);
  else if (config.guard === 'oncely') {
    const { idempotency } = await import('../../src/server/adapters/hono.ts');
    app.post(ROUTE, idempotency({ store: store?.store, scope }), handler);
  } else throw new Error(`bench server: ${config.guard} is an Express middleware`);
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
      resolve(server as Server),
    );
  });
}

/**
 * Transactional mode through every adapter, on a real PostgreSQL: the handler writes through the
 * transaction it finds where the adapter documents it, and its write commits with the stored
 * response, or rolls back with the key.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { idempotency as expressIdempotency } from '../../../src/server/adapters/express.ts';
import { idempotency as fastifyIdempotency } from '../../../src/server/adapters/fastify.ts';
import {
  idempotency as honoIdempotency,
  type IdempotencyEnv,
} from '../../../src/server/adapters/hono.ts';
import { idempotency as nodeIdempotency } from '../../../src/server/adapters/node-http.ts';
import type { IdempotencyContext } from '../../../src/server/core/types.ts';
import { postgresStore } from '../../../src/server/stores/postgres.ts';
import { service } from '../../support/services.ts';
import type { TestServer } from './behaviour.ts';
import { listen, serveFetch } from './serve.ts';

const url = service('postgres');

/** The route's work: insert a charge through `tx`, then answer as `mode` says. */
type Work = (
  tx: pg.PoolClient,
  key: string,
  mode: string | undefined,
) => Promise<{ status: number; body: string }>;

interface Setup {
  options: {
    store: ReturnType<typeof postgresStore>;
    transactional: true;
    maxBodyBytes: number;
    scope: () => string;
    logger: { warn(): void };
  };
  work: Work;
}

/** The Express route: the work through the transaction in `res.locals.oncely`. */
function expressRoute(work: Work): express.RequestHandler {
  return async (req, res) => {
    const context = res.locals.oncely as IdempotencyContext<pg.PoolClient>;
    const { status, body } = await work(
      context.tx as pg.PoolClient,
      String(context.key),
      req.get('x-mode'),
    );
    res.status(status).type('json').send(body);
  };
}

const servers: Record<string, (setup: Setup) => Promise<TestServer>> = {
  'node:http': async ({ options, work }) =>
    listen(
      createServer(
        nodeIdempotency<pg.PoolClient>({ ...options, onError: () => {} })(
          async (req, res, context) => {
            const { status, body } = await work(
              context.tx as pg.PoolClient,
              String(context.key),
              req.headers['x-mode'] as string | undefined,
            );
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(body);
          },
        ),
      ),
    ),
  express: async ({ options, work }) => {
    const app = express();
    app.use(express.json());
    app.post('/charges', expressIdempotency(options), expressRoute(work));
    return listen(createServer(app));
  },
  fastify: async ({ options, work }) => {
    const app = Fastify();
    await app.register(fastifyIdempotency(options));
    app.post('/charges', async (request, reply) => {
      const context = request.oncely as IdempotencyContext<pg.PoolClient>;
      const mode = request.headers['x-mode'] as string | undefined;
      const { status, body } = await work(context.tx as pg.PoolClient, String(context.key), mode);
      return reply.code(status).type('application/json').send(body);
    });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: address, close: () => app.close() };
  },
  hono: async ({ options, work }) => {
    const app = new Hono<IdempotencyEnv<pg.PoolClient>>();
    app.onError((_error, c) => c.text('failed', 500));
    app.post('/charges', honoIdempotency<pg.PoolClient>(options), async (c) => {
      const context = c.get('oncely');
      const { status, body } = await work(
        context.tx as pg.PoolClient,
        String(context.key),
        c.req.header('x-mode'),
      );
      return c.body(body, status as 201, { 'content-type': 'application/json' });
    });
    return serveFetch(app.fetch);
  },
};

describe.skipIf(!url)('adapters in transactional mode (PostgreSQL)', () => {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  const run = randomBytes(4).toString('hex');
  const table = `oncely_adapters_${run}`;
  const charges = `adapter_charges_${run}`;
  const store = postgresStore(pool, { table, sweepIntervalMs: 0 });

  beforeAll(async () => {
    await pool.query(`CREATE TABLE ${charges} (key TEXT NOT NULL)`);
  });

  afterAll(async () => {
    await store.close();
    await pool.query(`DROP TABLE IF EXISTS ${table}, ${charges}`);
    await pool.end();
  });

  const work: Work = async (tx, key, mode) => {
    await tx.query(`INSERT INTO ${charges} (key) VALUES ($1)`, [key]);
    if (mode === 'throw') throw new Error('handler failed');
    const status = mode === 'fail' ? 503 : 201;
    const pad = mode === 'large' ? 'x'.repeat(2048) : '';
    return { status, body: JSON.stringify({ key, at: process.hrtime.bigint().toString(), pad }) };
  };

  /** Posts a charge to `url` with `key`; `mode` tells the route's work how to answer. */
  const sender = (url: string) => (key: string, mode?: string) =>
    fetch(`${url}/charges`, {
      method: 'POST',
      headers: {
        'idempotency-key': key,
        'content-type': 'application/json',
        ...(mode === undefined ? {} : { 'x-mode': mode }),
      },
      body: '{"amount":1}',
    });

  const count = async (key: string) =>
    Number(
      (await pool.query(`SELECT count(*) AS n FROM ${charges} WHERE key = $1`, [key])).rows[0].n,
    );

  /** After a rolled-back first try: a retry runs the handler again, and its one write commits. */
  const expectRunsAgain = async (send: ReturnType<typeof sender>, key: string) => {
    const retry = await send(key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    await retry.text();
    expect(await count(key)).toBe(1);
  };

  for (const [name, makeServer] of Object.entries(servers)) {
    describe(name, () => {
      const start = async () => {
        const server = await makeServer({
          options: {
            store,
            transactional: true,
            scope: () => 'tx-tenant',
            logger: { warn() {} },
            maxBodyBytes: 1024,
          },
          work,
        });
        onTestFinished(() => server.close());
        return sender(server.url);
      };

      it('commits the handler write with the stored response, and replays it', async () => {
        const send = await start();
        const key = `${name}-commit-${run}`;
        const first = await send(key);
        expect(first.status).toBe(201);
        const body = await first.text();
        const again = await send(key);
        expect(again.status).toBe(201);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(await again.text()).toBe(body);
        expect(await count(key)).toBe(1);
      });

      it('rolls the write back with a 5xx answer, and a retry runs again', async () => {
        const send = await start();
        const key = `${name}-5xx-${run}`;
        const first = await send(key, 'fail');
        expect(first.status).toBe(503);
        await first.text();
        expect(await count(key)).toBe(0);
        await expectRunsAgain(send, key);
      });

      it('rolls back a response too large to store, answering 500 idempotency-response-too-large', async () => {
        const send = await start();
        const key = `${name}-large-${run}`;
        const failed = await send(key, 'large');
        expect(failed.status).toBe(500);
        expect(failed.headers.get('content-type')).toBe('application/problem+json');
        expect(await failed.json()).toMatchObject({
          type: 'https://oncely.dev/problems/idempotency-response-too-large',
        });
        expect(await count(key)).toBe(0);
      });

      it('rolls the write back when the handler throws', async () => {
        const send = await start();
        const key = `${name}-throw-${run}`;
        const failed = await send(key, 'throw');
        expect(failed.status).toBe(500);
        await failed.text();
        expect(await count(key)).toBe(0);
        await expectRunsAgain(send, key);
      });
    });
  }

  it('express: rolls back and releases a throw its error handler answers with a 4xx', async () => {
    const app = express();
    app.use(express.json());
    app.post(
      '/charges',
      expressIdempotency({
        store,
        transactional: true,
        scope: () => 'tx-tenant',
        logger: { warn() {} },
      }),
      expressRoute(work),
    );
    app.use((error: Error, _req: express.Request, res: express.Response, _next: unknown) => {
      res.status(400).json({ error: error.message });
    });
    const server = await listen(createServer(app));
    onTestFinished(() => server.close());
    const send = sender(server.url);
    const key = `express-error-handler-${run}`;
    const failed = await send(key, 'throw');
    expect(failed.status).toBe(400);
    expect(await failed.json()).toEqual({ error: 'handler failed' });
    expect(await count(key)).toBe(0);
    await expectRunsAgain(send, key);
  });
});

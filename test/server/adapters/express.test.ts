import { createServer } from 'node:http';
import express, { type Request, type Response } from 'express';
import { describe, expect, it, onTestFinished } from 'vitest';
import { idempotency } from '../../../src/server/adapters/express.ts';
import { type Fixture, testAdapter } from './behaviour.ts';
import { listen, textOf } from './serve.ts';

function route(fixture: Fixture) {
  return async (req: Request, res: Response) => {
    const reply = await fixture.handle({
      method: req.method,
      header: (name) => req.get(name),
      // A body express.json() parsed, or the raw stream the middleware gave back.
      body: req.body === undefined ? await textOf(req) : JSON.stringify(req.body),
    });
    res.status(reply.status);
    for (const [name, value] of reply.headers) res.append(name, value);
    for (const chunk of reply.chunks) res.write(chunk);
    res.end();
  };
}

function options(fixture: Fixture) {
  return { ...fixture.options, scope: (req: Request) => fixture.scope(req.get('x-api-key')) };
}

// The usual set-up: express.json() first, the middleware on the route.
testAdapter('express (after express.json())', async (fixture) => {
  const app = express();
  app.use(express.json());
  app.all('/charges', idempotency(options(fixture)), route(fixture));
  return listen(createServer(app));
});

// No parser before the middleware: it reads the raw body and gives it back to express.json().
testAdapter('express (before express.json())', async (fixture) => {
  const app = express();
  app.use(idempotency(options(fixture)));
  app.use(express.json());
  app.all('/charges', route(fixture));
  return listen(createServer(app));
});

describe('express adapter', () => {
  it('hands a request body over maxRequestBytes to the error handler as a 413', async () => {
    let runs = 0;
    const app = express();
    app.post(
      '/x',
      idempotency({ scope: () => 't', logger: { warn() {} }, maxRequestBytes: 10 }),
      (_req, res) => {
        runs++;
        res.send('ran');
      },
    );
    const server = await listen(createServer(app));
    onTestFinished(() => server.close());
    const send = (body: string) =>
      fetch(`${server.url}/x`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body });
    expect((await send('x'.repeat(11))).status).toBe(413);
    expect(runs).toBe(0);
    expect(await (await send('x'.repeat(10))).text()).toBe('ran');
  });
});

describe('express adapter, two guards on one route', () => {
  it('captures the response through both: it runs once and both replay it', async () => {
    let runs = 0;
    const app = express();
    app.use(express.json());
    const quiet = { logger: { warn() {} } };
    app.post(
      '/x',
      idempotency({ ...quiet, scope: () => 'outer' }),
      idempotency({ ...quiet, scope: () => 'inner' }),
      (_req, res) => {
        runs++;
        res.status(201).json({ run: runs });
      },
    );
    const server = await listen(createServer(app));
    onTestFinished(() => server.close());
    const send = () =>
      fetch(`${server.url}/x`, {
        method: 'POST',
        headers: { 'idempotency-key': 'k', 'content-type': 'application/json' },
        body: '{"a":1}',
      });
    const first = await send();
    expect(first.status).toBe(201);
    expect(await first.text()).toBe('{"run":1}');
    const second = await send();
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe('{"run":1}');
    expect(runs).toBe(1);
  });
});

describe('express adapter, body already read', () => {
  it('refuses with 500 rather than fingerprint a request whose body it cannot see', async () => {
    let runs = 0;
    const app = express();
    // Reads the stream without leaving req.body, as a careless logger might.
    app.use(async (req, _res, next) => {
      for await (const _ of req) {
      }
      next();
    });
    app.post('/x', idempotency({ scope: () => 't', logger: { warn() {} } }), (_req, res) => {
      runs++;
      res.send('ran');
    });
    const server = await listen(createServer(app));
    onTestFinished(() => server.close());
    const response = await fetch(`${server.url}/x`, {
      method: 'POST',
      headers: { 'idempotency-key': 'k' },
      body: 'payload',
    });
    expect(response.status).toBe(500);
    expect(runs).toBe(0);
  });
});

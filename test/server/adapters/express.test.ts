import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { describe, expect, it, onTestFinished } from 'vitest';
import { idempotency } from '../../../src/server/adapters/express.ts';
import { type Fixture, testAdapter } from './behaviour.ts';
import { delayedStore, listen, textOf } from './serve.ts';

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

describe('express adapter, a JSON body that is a string', () => {
  it('tells the string "5" from the number 5 (express.json({ strict: false }))', async () => {
    let runs = 0;
    const app = express();
    app.use(express.json({ strict: false }));
    app.post('/x', idempotency({ scope: () => 't', logger: { warn() {} } }), (req, res) => {
      runs++;
      res.status(201).json({ got: req.body });
    });
    const server = await listen(createServer(app));
    onTestFinished(() => server.close());
    const send = (body: string) =>
      fetch(`${server.url}/x`, {
        method: 'POST',
        headers: { 'idempotency-key': 'k', 'content-type': 'application/json' },
        body,
      });
    expect(await (await send('"5"')).text()).toBe('{"got":"5"}');
    // The same key with another body: 422, not the first request's answer replayed.
    expect((await send('5')).status).toBe(422);
    expect((await send(' "5" ')).headers.get('idempotent-replayed')).toBe('true');
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

describe('express adapter: a handler that throws', () => {
  const quiet = { scope: () => 't', logger: { warn() {} } };

  async function serve(app: express.Express) {
    const server = await listen(createServer(app));
    onTestFinished(() => server.close());
    return () =>
      fetch(`${server.url}/x`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body: 'b' });
  }

  const failures = {
    throws: () => {
      throw new Error('handler failed');
    },
    rejects: async () => {
      throw new Error('handler failed');
    },
    'calls next(err)': (_req: Request, _res: Response, next: NextFunction) =>
      next(new Error('handler failed')),
  };

  for (const [how, fail] of Object.entries(failures)) {
    it(`releases the key when it ${how}, even with storeServerErrors`, async () => {
      let runs = 0;
      const app = express();
      app.post('/x', idempotency({ ...quiet, storeServerErrors: true }), (req, res, next) => {
        runs++;
        if (runs === 1) return fail(req, res, next);
        res.status(201).send('second');
      });
      const send = await serve(app);
      const failed = await send();
      expect(failed.status).toBe(500);
      await failed.text();
      const retry = await send();
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
      expect(await retry.text()).toBe('second');
      expect(runs).toBe(2);
    });
  }

  it('releases the key when an error handler answers the thrown error with a 4xx', async () => {
    let runs = 0;
    const app = express();
    app.post('/x', idempotency(quiet), () => {
      runs++;
      throw Object.assign(new Error('bad input'), { status: 400 });
    });
    app.use(
      (error: Error & { status: number }, _req: Request, res: Response, _next: NextFunction) => {
        res.status(error.status).send(error.message);
      },
    );
    const send = await serve(app);
    const failed = await send();
    expect(failed.status).toBe(400);
    await failed.text();
    const retry = await send();
    expect(retry.status).toBe(400);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    await retry.text();
    expect(runs).toBe(2);
  });

  it("sends what res.json() ended before a throw, not the final handler's 500, with a store that answers later", async () => {
    let runs = 0;
    const app = express();
    app.post('/x', idempotency({ ...quiet, store: delayedStore() }), (_req, res) => {
      runs++;
      res.status(201).set('x-run', String(runs)).json({ run: runs });
      throw new Error('after the answer');
    });
    const send = await serve(app);
    // The end waits for the store; meanwhile Express's final handler set a 500, an HTML type and
    // its Content-Length, which went out with the JSON body and broke the connection.
    const first = await send();
    expect(first.status).toBe(201);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(first.headers.get('x-run')).toBe('1');
    expect(first.headers.get('content-security-policy')).toBeNull();
    expect(await first.text()).toBe('{"run":1}');
    const retry = await send();
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe('{"run":1}');
    expect(runs).toBe(1);
  });

  it('stores what it ended before throwing, with a store that answers later', async () => {
    let runs = 0;
    const app = express();
    app.post('/x', idempotency({ ...quiet, store: delayedStore(), wait: true }), (_req, res) => {
      runs++;
      res.writeHead(201, { 'content-type': 'text/plain' }).end('created');
      throw new Error('after the answer');
    });
    const send = await serve(app);
    // writeHead sent the head already: Express's final handler may close this first connection
    // before the held-back end is out.
    const first = await send().then(
      async (response) => [response.status, await response.text()],
      () => 'closed',
    );
    expect([[201, 'created'], 'closed']).toContainEqual(first);
    const retry = await send();
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe('created');
    expect(runs).toBe(1);
  });
});

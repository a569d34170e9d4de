import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { idempotency } from '../../../src/server/adapters/node-http.ts';
import { memoryStore } from '../../../src/server/index.ts';
import type { Store } from '../../../src/server/stores/store.ts';
import { testAdapter } from './behaviour.ts';
import { delayedStore, listen, textOf } from './serve.ts';

testAdapter('node:http', async (fixture) => {
  const guarded = idempotency({
    ...fixture.options,
    scope: (req) => fixture.scope(req.headers['x-api-key'] as string | undefined),
    onError: () => {},
  })(async (req, res) => {
    const reply = await fixture.handle({
      method: req.method ?? 'GET',
      header: (name) => req.headers[name] as string | undefined,
      body: await textOf(req),
    });
    res.statusCode = reply.status;
    for (const [name, value] of reply.headers) res.appendHeader(name, value);
    for (const chunk of reply.chunks) res.write(chunk);
    res.end();
  });
  return listen(createServer(guarded));
});

describe('node:http adapter', () => {
  async function serve(
    handler: Parameters<ReturnType<typeof idempotency>>[0],
    maxRequestBytes?: number,
  ) {
    const server = await listen(
      createServer(
        idempotency({
          scope: () => 't',
          logger: { warn() {} },
          onError: () => {},
          maxRequestBytes,
        })(handler),
      ),
    );
    onTestFinished(() => server.close());
    return (key: string, body = 'hello') =>
      fetch(`${server.url}/x`, { method: 'POST', headers: { 'idempotency-key': key }, body });
  }

  it('stores the headers given to writeHead, repeated ones included', async () => {
    let runs = 0;
    const send = await serve((_req, res) => {
      runs++;
      res.writeHead(201, 'Made', { 'content-type': 'text/plain', 'x-list': ['a', 'b'] });
      res.end(`run ${runs}`);
    });
    const first = await send('wh');
    expect(first.statusText).toBe('Made');
    expect(await first.text()).toBe('run 1');
    const again = await send('wh');
    expect(again.status).toBe(201);
    expect(again.headers.get('content-type')).toBe('text/plain');
    expect(again.headers.get('x-list')).toBe('a, b');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe('run 1');
    expect(runs).toBe(1);
  });

  it('lets headers given to writeHead as an array replace those set before, as Node does', async () => {
    let runs = 0;
    const send = await serve((_req, res) => {
      runs++;
      res.setHeader('content-type', 'text/html');
      res.setHeader('x-kept', 'yes');
      res.writeHead(201, ['Content-Type', 'text/plain', 'x-list', 'a', 'x-list', 'b']);
      res.end(`run ${runs}`);
    });
    const first = await send('array');
    expect(first.headers.get('content-type')).toBe('text/plain');
    expect(await first.text()).toBe('run 1');
    const again = await send('array');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe('text/plain');
    expect(again.headers.get('x-list')).toBe('a, b');
    expect(again.headers.get('x-kept')).toBe('yes');
    expect(await again.text()).toBe('run 1');
    expect(runs).toBe(1);
  });

  it('stores a header Node was given as a boolean as the string it sent', async () => {
    let runs = 0;
    const send = await serve((_req, res) => {
      runs++;
      res.setHeader('x-cache-hit', false as unknown as string);
      res.writeHead(201, { 'content-type': 'text/plain' }).end('created');
    });
    const first = await send('bool');
    expect([first.status, first.headers.get('x-cache-hit'), await first.text()]).toEqual([
      201,
      'false',
      'created',
    ]);
    const again = await send('bool');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('x-cache-hit')).toBe('false');
    expect(runs).toBe(1);
  });

  it('stores headers set before writeHead together with those given to it', async () => {
    const send = await serve((_req, res) => {
      res.setHeader('x-before', '1');
      res.writeHead(201, { 'X-Given': '2' });
      res.end('done');
    });
    await (await send('both')).text();
    const again = await send('both');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('x-before')).toBe('1');
    expect(again.headers.get('x-given')).toBe('2');
  });

  it('captures a body piped into the response', async () => {
    let runs = 0;
    const send = await serve((_req, res) => {
      runs++;
      res.setHeader('content-type', 'text/plain');
      Readable.from(['one ', 'two ', `three ${runs}`]).pipe(res);
    });
    expect(await (await send('pipe')).text()).toBe('one two three 1');
    const again = await send('pipe');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe('one two three 1');
  });

  it('refuses a request body over maxRequestBytes with 413, without running', async () => {
    let runs = 0;
    const send = await serve((_req, res) => {
      runs++;
      res.end();
    }, 10);
    const response = await send('big', 'x'.repeat(11));
    expect(response.status).toBe(413);
    expect(runs).toBe(0);
  });
});

describe('node:http adapter: responses the client does not see to the end', () => {
  const rows = (count: number, pauseMs: number) =>
    Readable.from(
      (async function* () {
        for (let i = 1; i <= count; i++) {
          yield `row ${i}\n`;
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      })(),
    );

  async function serve(store: Store, handler: Parameters<ReturnType<typeof idempotency>>[0]) {
    const server = await listen(
      createServer(
        idempotency({ store, scope: () => 't', leaseMs: 300, logger: { warn() {} } })(handler),
      ),
    );
    onTestFinished(() => server.close());
    return (key: string, signal?: AbortSignal) =>
      fetch(`${server.url}/x`, {
        method: 'POST',
        headers: { 'idempotency-key': key },
        body: 'b',
        signal,
      });
  }

  it('frees the key of a client that left while the claim was decided, once the grace is over', async () => {
    let runs = 0;
    const send = await serve(delayedStore(150), (_req, res) => {
      runs++;
      res.statusCode = 201;
      // Piped into a response that is closed already: end() never comes.
      rows(3, 5).pipe(res);
    });
    await send('left', AbortSignal.timeout(30)).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 900));
    const retry = await send('left');
    await retry.text();
    expect(runs).toBe(2);
  });

  it('does not store a streamed body the client cut short, even when the handler ends it', async () => {
    let runs = 0;
    const send = await serve(memoryStore(), async (_req, res) => {
      runs++;
      res.writeHead(201, { 'content-type': 'text/plain' });
      for await (const row of rows(20, 20)) {
        if (res.destroyed) break;
        res.write(row);
      }
      res.end();
    });
    const controller = new AbortController();
    const first = await send('cut', controller.signal);
    await first.body?.getReader().read();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const retry = await send('cut');
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect((await retry.text()).trim().split('\n')).toHaveLength(20);
    expect(runs).toBe(2);
  });

  it('stores the bytes that were sent, when the handler reuses its buffer after a write', async () => {
    const send = await serve(memoryStore(), async (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      const buffer = Buffer.alloc(4);
      for (const letter of ['A', 'B', 'C']) {
        buffer.fill(letter);
        await new Promise<void>((done) => res.write(buffer, () => done()));
      }
      res.end();
    });
    expect(await (await send('reuse')).text()).toBe('AAAABBBBCCCC');
    const again = await send('reuse');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe('AAAABBBBCCCC');
  });
});

describe('node:http adapter: a handler that throws after its answer', () => {
  it('sends and stores the answer, with a store that answers later', async () => {
    let runs = 0;
    const errors: unknown[] = [];
    const guarded = idempotency({
      store: delayedStore(),
      scope: () => 't',
      logger: { warn() {} },
      onError: (error) => errors.push(error),
    })(async (_req, res) => {
      runs++;
      res.writeHead(201, { 'content-type': 'text/plain' }).end('created');
      throw new Error('after the answer');
    });
    const server = await listen(createServer(guarded));
    onTestFinished(() => server.close());
    const send = () =>
      fetch(`${server.url}/x`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body: 'b' });
    const first = await send();
    expect(first.status).toBe(201);
    expect(await first.text()).toBe('created');
    const retry = await send();
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe('created');
    expect(runs).toBe(1);
    expect(errors).toHaveLength(1);
  });
});

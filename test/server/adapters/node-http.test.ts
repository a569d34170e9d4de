import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { idempotency } from '../../../src/server/adapters/node-http.ts';
import { testAdapter } from './behaviour.ts';
import { listen, textOf } from './serve.ts';

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

import { createServer, request as httpRequest } from 'node:http';
import express from 'express';
import { describe, expect, it, onTestFinished } from 'vitest';
import { idempotency as expressIdempotency } from '../../../src/server/adapters/express.ts';
import { idempotency, memoryStore } from '../../../src/server/index.ts';
import { listen, serveFetch, textOf } from './serve.ts';

const quiet = { logger: { warn() {} } };

// Two guards on one route without a body parser before them: the first reads the raw body and
// gives it back to the stream, which marks the stream read; the second must not read it again.
describe('express: two guards on one request, no body parser before them', () => {
  async function stacked(innerLimit?: number) {
    let runs = 0;
    const store = memoryStore();
    const app = express();
    app.use(expressIdempotency({ ...quiet, store, scope: () => 'app' }));
    app.post(
      '/x',
      expressIdempotency({ ...quiet, store, scope: () => 'route', maxRequestBytes: innerLimit }),
      // A parser after both guards still finds the body in the stream.
      express.text({ type: '*/*' }),
      (req, res) => {
        runs++;
        res.status(201).json({ run: runs, body: req.body });
      },
    );
    app.use(
      (
        error: { status?: number },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(error.status ?? 500).end();
      },
    );
    const server = await listen(createServer(app));
    onTestFinished(() => server.close());
    const send = (body = 'hello', key = 'k') =>
      fetch(`${server.url}/x`, {
        method: 'POST',
        headers: { 'idempotency-key': key, 'content-type': 'text/plain' },
        body,
      });
    return { send, runs: () => runs };
  }

  it('runs the handler once with the body, and replays the retry', async () => {
    const { send, runs } = await stacked();
    const first = await send();
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ run: 1, body: 'hello' });
    const retry = await send();
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toEqual({ run: 1, body: 'hello' });
    expect(runs()).toBe(1);
  });

  it('tells a retry with another body apart (422): the second guard saw the bytes', async () => {
    const { send, runs } = await stacked();
    expect((await send('hello')).status).toBe(201);
    expect((await send('other')).status).toBe(422);
    expect(runs()).toBe(1);
  });

  it("holds the later guard's smaller limit over bytes the first already read", async () => {
    const { send, runs } = await stacked(4);
    expect((await send('hello')).status).toBe(413);
    expect(runs()).toBe(0);
    expect((await send('hell', 'k2')).status).toBe(201);
    expect(runs()).toBe(1);
  });

  it("accepts a body at the later guard's limit", async () => {
    const { send, runs } = await stacked(5);
    expect((await send('hello')).status).toBe(201);
    expect(runs()).toBe(1);
  });
});

describe('web idempotency(): maxRequestBytes', () => {
  function guarded(maxRequestBytes: number) {
    let runs = 0;
    const handle = idempotency({ ...quiet, scope: () => 't', maxRequestBytes })(async (request) => {
      runs++;
      return new Response(await request.text(), { status: 201 });
    });
    return { handle, runs: () => runs };
  }
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    new Request('http://x.test/charges', {
      method: 'POST',
      headers: { 'idempotency-key': 'k', ...headers },
      body,
      duplex: 'half',
    } as RequestInit);

  it('refuses a body over the limit with a 413 problem, without running the handler, and accepts one at the limit', async () => {
    const { handle, runs } = guarded(10);
    const response = await handle(post('x'.repeat(11)));
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 413, title: 'Content Too Large' });
    expect(runs()).toBe(0);
    // Refused before the claim: the same key still runs with a body at the limit, handed whole.
    const fits = await handle(post('0123456789'));
    expect(fits.status).toBe(201);
    expect(await fits.text()).toBe('0123456789');
    expect(runs()).toBe(1);
  });

  it('stops reading a stream without Content-Length once it passes the limit', async () => {
    const { handle, runs } = guarded(1000);
    let pulled = 0;
    let cancelled = false;
    // 64 chunks of 256 bytes, far past the limit of 1000.
    const long = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(256));
        if (pulled === 64) controller.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    const response = await handle(post(long));
    expect(response.status).toBe(413);
    expect(runs()).toBe(0);
    expect(pulled).toBeLessThan(10);
    expect(cancelled).toBe(true);
  });

  it('refuses a Content-Length over the limit without reading the body', async () => {
    const { handle, runs } = guarded(10);
    let pulled = false;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulled = true;
          controller.enqueue(new Uint8Array(11));
          controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    const response = await handle(post(body, { 'content-length': '11' }));
    expect(response.status).toBe(413);
    expect(pulled).toBe(false);
    expect(runs()).toBe(0);
  });

  it('refuses a body larger than the Content-Length it claims', async () => {
    const { handle, runs } = guarded(10);
    const response = await handle(post('x'.repeat(11), { 'content-length': '1' }));
    expect(response.status).toBe(413);
    expect(runs()).toBe(0);
  });

  it('answers the 413 over HTTP, for a Content-Length and for a chunked body', async () => {
    const { handle, runs } = guarded(10);
    const server = await serveFetch(handle);
    onTestFinished(() => server.close());
    const sized = await fetch(`${server.url}/charges`, {
      method: 'POST',
      headers: { 'idempotency-key': 'k' },
      body: 'x'.repeat(11),
    });
    expect(sized.status).toBe(413);
    const chunked = await new Promise<{ status: number | undefined; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(`${server.url}/charges`, {
          method: 'POST',
          headers: { 'idempotency-key': 'k', 'transfer-encoding': 'chunked' },
        });
        req.on('response', async (res) =>
          resolve({ status: res.statusCode, body: await textOf(res) }),
        );
        req.on('error', reject);
        // Chunked, without a Content-Length: read until it passes the limit.
        for (let i = 0; i < 4; i++) req.write('xxxxx');
        req.end();
      },
    );
    expect(chunked.status).toBe(413);
    expect(chunked.body).toContain('Content Too Large');
    expect(runs()).toBe(0);
  });
});

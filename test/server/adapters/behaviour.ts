/**
 * The behaviour suite every server adapter passes: the answers table of issue 4, over real HTTP
 * (a server on 127.0.0.1:0, requests with fetch). An adapter's test file calls
 * `testAdapter(name, makeServer)`, where `makeServer` serves `POST|PUT|GET /charges` guarded by
 * the adapter with `fixture.options` and a scope from the `x-api-key` header, and answers with
 * what `fixture.handle` returns (written chunk by chunk, to exercise streaming capture).
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { IdempotencyEvent } from '../../../src/server/core/events.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';
import type { Store } from '../../../src/server/stores/store.ts';

/** What the shared handler answers; each chunk is written separately. */
export interface Reply {
  status: number;
  headers: [string, string][];
  chunks: Uint8Array[];
}

/** What an adapter's test server gets to build its app. */
export interface Fixture {
  /** Core options for the adapter (everything but `scope`). */
  options: {
    store: Store;
    maxBodyBytes: number;
    onEvent: (event: IdempotencyEvent) => void;
    logger: { warn(message: string): void };
  };
  /** The scope for the value of the `x-api-key` header. */
  scope(apiKey: string | undefined): string;
  /**
   * The handler's work: `body` is the request body as the handler read it (JSON text for a
   * parsed body). Throws when asked to (`x-mode: throw`); the bridge lets the error propagate
   * the framework's way.
   */
  handle(request: {
    method: string;
    header(name: string): string | undefined;
    body: string;
  }): Promise<Reply>;
}

/** A running test server. */
export interface TestServer {
  url: string;
  close(): Promise<void>;
}

export type MakeServer = (fixture: Fixture) => Promise<TestServer>;

const PROBLEMS = 'https://oncely.dev/problems/';
export const MAX_BODY_BYTES = 4096;
const encoder = new TextEncoder();

interface Harness {
  url: string;
  events: IdempotencyEvent[];
  /** Handler runs so far. */
  readonly runs: number;
  /** Lets the handlers waiting on `x-mode: wait` go on. */
  open(): void;
  /** Resolves once a handler is waiting on the latch. */
  waiting: Promise<void>;
  send(key: string | undefined, init?: Send): Promise<Response>;
}

interface Send {
  method?: string;
  body?: string | Uint8Array;
  contentType?: string;
  apiKey?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

async function start(makeServer: MakeServer): Promise<Harness> {
  let runs = 0;
  let open!: () => void;
  const latch = new Promise<void>((resolve) => {
    open = resolve;
  });
  let arrived!: () => void;
  const waiting = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const events: IdempotencyEvent[] = [];
  const fixture: Fixture = {
    options: {
      store: memoryStore(),
      maxBodyBytes: MAX_BODY_BYTES,
      onEvent: (event) => events.push(event),
      logger: { warn: () => {} },
    },
    scope: (apiKey) => {
      // A scope lookup that fails (an auth service down): the adapter must not claim the key.
      if (apiKey === 'scope-fails') throw new Error('scope lookup failed');
      return `tenant:${apiKey ?? 'none'}`;
    },
    async handle({ method, header, body }) {
      runs++;
      const run = runs;
      const mode = header('x-mode');
      if (mode === 'wait') {
        arrived();
        await latch;
      }
      if (mode === 'throw') throw new Error('handler failed');
      const status = Number(header('x-status') ?? 201);
      if (mode === 'binary') {
        const bytes = new Uint8Array(300);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + run) % 256;
        return {
          status,
          headers: [
            ['content-type', 'application/octet-stream'],
            ['x-multi', 'one'],
            ['x-multi', 'two'],
            ['x-custom', `run-${run}`],
          ],
          chunks: [bytes.subarray(0, 100), bytes.subarray(100)],
        };
      }
      if (mode === 'utf8') {
        // A BOM and multi-byte characters: text that adapters may send as a string on replay.
        const text = `\uFEFF{"run":${run},"name":"Zoë ✓ 😀"}`;
        const headers: [string, string][] = [['x-custom', `run-${run}`]];
        if (header('x-typed') === 'yes') headers.unshift(['content-type', 'application/json']);
        return { status, headers, chunks: [encoder.encode(text)] };
      }
      if (mode === 'large') {
        const chunk = encoder.encode('x'.repeat(1024));
        return {
          status,
          headers: [['content-type', 'text/plain']],
          chunks: Array.from({ length: 6 }, () => chunk),
        };
      }
      const text = JSON.stringify({ run, id: randomUUID(), method, echo: body });
      return {
        status,
        headers: [
          ['content-type', 'application/json'],
          ['x-custom', `run-${run}`],
        ],
        chunks: [encoder.encode(text.slice(0, 10)), encoder.encode(text.slice(10))],
      };
    },
  };
  const server = await makeServer(fixture);
  onTestFinished(() => server.close());
  return {
    url: server.url,
    events,
    get runs() {
      return runs;
    },
    open,
    waiting,
    send(key, init = {}) {
      const headers = new Headers(init.headers);
      if (key !== undefined) headers.set('idempotency-key', key);
      if (init.apiKey !== undefined) headers.set('x-api-key', init.apiKey);
      const method = init.method ?? 'POST';
      const body = method === 'GET' ? undefined : (init.body ?? '{"amount":100}');
      if (body !== undefined) headers.set('content-type', init.contentType ?? 'application/json');
      return fetch(`${server.url}/charges`, {
        method,
        headers,
        body: body as BodyInit,
        signal: init.signal,
      });
    },
  };
}

// Per connection or per sending: not part of what is stored and replayed.
const TRANSIENT = new Set([
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'idempotent-replayed',
]);

/** The headers of a response that a replay must repeat. */
function headersOf(response: Response): [string, string][] {
  return [...response.headers].filter(([name]) => !TRANSIENT.has(name));
}

async function problemOf(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Record<string, unknown>;
}

/** Sends one POST with the Idempotency-Key header on two lines (fetch would join them). */
function sendTwoKeyLines(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/charges`, { method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setHeader('idempotency-key', ['a', 'b']);
    req.setHeader('content-type', 'application/json');
    req.on('error', reject);
    req.end('{}');
  });
}

/** Runs the answers table of issue 4 against one adapter. */
export function testAdapter(name: string, makeServer: MakeServer): void {
  describe(`${name}: the answers table over HTTP`, () => {
    it('runs the handler once and replays status, headers and body with Idempotent-Replayed', async () => {
      const t = await start(makeServer);
      const first = await t.send('k-1');
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const body = await first.text();
      expect(JSON.parse(body)).toMatchObject({ run: 1, echo: expect.any(String) });
      // The handler could still read the body the adapter fingerprinted.
      expect(JSON.parse(JSON.parse(body).echo)).toEqual({ amount: 100 });
      const again = await t.send('k-1');
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('x-custom')).toBe('run-1');
      expect(headersOf(again)).toEqual(headersOf(first));
      expect(await again.text()).toBe(body);
      expect(t.runs).toBe(1);
    });

    it('replays a binary body byte for byte, with repeated headers', async () => {
      const t = await start(makeServer);
      const headers = { 'x-mode': 'binary' };
      const first = await t.send('bin', { headers });
      const bytes = new Uint8Array(await first.arrayBuffer());
      expect(bytes.byteLength).toBe(300);
      const again = await t.send('bin', { headers });
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('x-multi')).toBe('one, two');
      expect(again.headers.get('content-type')).toBe('application/octet-stream');
      expect(headersOf(again)).toEqual(headersOf(first));
      expect(new Uint8Array(await again.arrayBuffer())).toEqual(bytes);
      expect(t.runs).toBe(1);
    });

    it('replays UTF-8 text byte for byte, a BOM and multi-byte characters included', async () => {
      const t = await start(makeServer);
      for (const typed of ['yes', 'no']) {
        const headers = { 'x-mode': 'utf8', 'x-typed': typed };
        const first = await t.send(`utf8-${typed}`, { headers });
        const bytes = new Uint8Array(await first.arrayBuffer());
        expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
        const again = await t.send(`utf8-${typed}`, { headers });
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        // No Content-Type comes with the replay when the handler sent none.
        expect(headersOf(again)).toEqual(headersOf(first));
        expect(again.headers.get('content-length')).toBe(String(bytes.byteLength));
        expect(new Uint8Array(await again.arrayBuffer())).toEqual(bytes);
      }
      expect(t.runs).toBe(2);
    });

    it('answers 400 idempotency-key-missing without a key on POST, without running', async () => {
      const t = await start(makeServer);
      const response = await t.send(undefined);
      expect(response.status).toBe(400);
      expect(await problemOf(response)).toMatchObject({
        type: `${PROBLEMS}idempotency-key-missing`,
        status: 400,
      });
      expect(t.runs).toBe(0);
    });

    it.each([
      ['empty', ''],
      ['two values', 'a, b'],
      ['256 characters', 'k'.repeat(256)],
    ])('answers 400 idempotency-key-invalid for a key %s', async (_name, key) => {
      const t = await start(makeServer);
      const response = await t.send(key);
      expect(response.status).toBe(400);
      expect(await problemOf(response)).toMatchObject({
        type: `${PROBLEMS}idempotency-key-invalid`,
      });
      expect(t.runs).toBe(0);
    });

    it('answers 400 for a key sent on two header lines', async () => {
      const t = await start(makeServer);
      expect(await sendTwoKeyLines(t.url)).toBe(400);
      expect(t.runs).toBe(0);
    });

    it('reads the sf-string form and the plain form as one key', async () => {
      const t = await start(makeServer);
      await (await t.send('"sf-key"')).text();
      const again = await t.send('sf-key');
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      await again.text();
      expect(t.runs).toBe(1);
    });

    it('answers 409 with Retry-After to a duplicate while the first still runs', async () => {
      const t = await start(makeServer);
      const headers = { 'x-mode': 'wait' };
      const first = t.send('busy', { headers });
      await t.waiting;
      const second = await t.send('busy', { headers });
      expect(second.status).toBe(409);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await problemOf(second)).toMatchObject({ type: `${PROBLEMS}idempotency-key-in-use` });
      t.open();
      expect((await first).status).toBe(201);
      expect(t.runs).toBe(1);
    });

    it('stores the response of a handler whose client went away, so the retry does not run it again', async () => {
      const t = await start(makeServer);
      const abort = new AbortController();
      const headers = { 'x-mode': 'wait' };
      const gone = t.send('gone', { headers, signal: abort.signal }).catch(() => undefined);
      await t.waiting;
      abort.abort();
      await gone;
      // Let the server see the connection close before the handler goes on.
      await new Promise((resolve) => setTimeout(resolve, 100));
      t.open();
      let retry = await t.send('gone', { headers });
      for (let i = 0; i < 100 && retry.status === 409; i++) {
        await retry.text();
        await new Promise((resolve) => setTimeout(resolve, 20));
        retry = await t.send('gone', { headers });
      }
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      await retry.text();
      expect(t.runs).toBe(1);
    });

    it('answers 422 to the key reused with another body, never showing the stored response', async () => {
      const t = await start(makeServer);
      await (await t.send('reuse', { body: '{"amount":100}' })).text();
      const other = await t.send('reuse', { body: '{"amount":999}' });
      expect(other.status).toBe(422);
      expect(await problemOf(other)).toMatchObject({ type: `${PROBLEMS}idempotency-key-reused` });
      expect(t.runs).toBe(1);
    });

    it('fingerprints JSON canonically: key order and whitespace do not matter', async () => {
      const t = await start(makeServer);
      await (await t.send('json', { body: '{"a":1,"b":{"c":[1,2],"d":"x"}}' })).text();
      const again = await t.send('json', { body: '{ "b": { "d": "x", "c": [1, 2] },\n "a": 1 }' });
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      await again.text();
      expect(t.runs).toBe(1);
    });

    it('fingerprints other bodies by their bytes', async () => {
      const t = await start(makeServer);
      const binary = { contentType: 'application/octet-stream' };
      const first = await t.send('raw', { ...binary, body: new Uint8Array([1, 2, 3, 250]) });
      // The handler still read the raw body after the adapter did.
      expect(JSON.parse(await first.text()).echo.length).toBeGreaterThan(0);
      const same = await t.send('raw', { ...binary, body: new Uint8Array([1, 2, 3, 250]) });
      expect(same.headers.get('idempotent-replayed')).toBe('true');
      await same.text();
      const other = await t.send('raw', { ...binary, body: new Uint8Array([1, 2, 3, 251]) });
      expect(other.status).toBe(422);
      await other.text();
      expect(t.runs).toBe(1);
    });

    it('stores and replays a 4xx answer', async () => {
      const t = await start(makeServer);
      const headers = { 'x-status': '400' };
      expect((await t.send('bad', { headers })).status).toBe(400);
      const again = await t.send('bad', { headers });
      expect(again.status).toBe(400);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      await again.text();
      expect(t.runs).toBe(1);
    });

    it.each([401, 403, 408, 409, 429, 500, 503])(
      'does not store a %i: a retry runs the handler again',
      async (status) => {
        const t = await start(makeServer);
        const headers = { 'x-status': String(status) };
        const first = await t.send(`s-${status}`, { headers });
        expect(first.status).toBe(status);
        await first.text();
        const again = await t.send(`s-${status}`, { headers });
        expect(again.status).toBe(status);
        expect(again.headers.get('idempotent-replayed')).toBeNull();
        await again.text();
        expect(t.runs).toBe(2);
      },
    );

    it('releases the key when the handler throws, so a retry runs it again', async () => {
      const t = await start(makeServer);
      const failed = await t.send('boom', { headers: { 'x-mode': 'throw' } });
      expect(failed.status).toBe(500);
      await failed.text();
      const retry = await t.send('boom');
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
      await retry.text();
      expect(t.runs).toBe(2);
    });

    it('ignores a key on GET', async () => {
      const t = await start(makeServer);
      for (let i = 0; i < 2; i++) {
        const response = await t.send('get-key', { method: 'GET', headers: { 'x-status': '200' } });
        expect(response.status).toBe(200);
        expect(response.headers.get('idempotent-replayed')).toBeNull();
        await response.text();
      }
      expect(t.runs).toBe(2);
      expect(t.events).toEqual([]);
    });

    it('guards PUT when it carries a key, and lets it through without one', async () => {
      const t = await start(makeServer);
      await (await t.send('put', { method: 'PUT' })).text();
      const again = await t.send('put', { method: 'PUT' });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      await again.text();
      expect((await t.send(undefined, { method: 'PUT' })).status).toBe(201);
      expect(t.runs).toBe(2);
    });

    it('keeps scopes apart: one key from two API keys runs twice, each replaying its own', async () => {
      const t = await start(makeServer);
      const a = await (await t.send('shared', { apiKey: 'A' })).text();
      const b = await (await t.send('shared', { apiKey: 'B' })).text();
      expect(a).not.toBe(b);
      expect(t.runs).toBe(2);
      const againA = await t.send('shared', { apiKey: 'A' });
      const againB = await t.send('shared', { apiKey: 'B' });
      expect(await againA.text()).toBe(a);
      expect(await againB.text()).toBe(b);
      expect(t.runs).toBe(2);
    });

    it('answers an error without running or claiming when the scope function throws', async () => {
      const t = await start(makeServer);
      const failed = await t.send('scoped', { apiKey: 'scope-fails' });
      expect(failed.status).toBeGreaterThanOrEqual(500);
      await failed.text();
      expect(t.runs).toBe(0);
      // Nothing was claimed under any scope: the same key runs once the scope resolves.
      expect((await t.send('scoped', { apiKey: 'A' })).status).toBe(201);
      expect(t.runs).toBe(1);
    });

    it('sends a response over maxBodyBytes whole but does not store it', async () => {
      const t = await start(makeServer);
      const headers = { 'x-mode': 'large' };
      const first = await t.send('large', { headers });
      expect(first.status).toBe(201);
      expect((await first.text()).length).toBe(6 * 1024);
      const again = await t.send('large', { headers });
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      expect((await again.text()).length).toBe(6 * 1024);
      expect(t.runs).toBe(2);
      expect(t.events.map((event) => event.type)).toContain('not-stored');
    });
  });
}

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseResult } from '../../src/cli/check/cases.ts';
import type { CommandIo } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { idempotency as nodeIdempotency } from '../../src/server/adapters/node-http.ts';
import { type IdempotencyOptions, idempotency, memoryStore } from '../../src/server/index.ts';

async function oncely(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function checkJson(...args: string[]) {
  const { code, out } = await oncely('check', ...args, '--json');
  const report = JSON.parse(out) as { cases: CaseResult[]; summary: Record<string, number> };
  return { code, outcomes: Object.fromEntries(report.cases.map((c) => [c.id, c.outcome])), report };
}

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((s) => new Promise((done) => s.close(done)))));

function urlOf(server: Server, path = '/charges'): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

/** An API guarded by the core's `idempotency()`, on @hono/node-server; each charge gets a new id. */
async function guardedApi(
  options: IdempotencyOptions = {},
): Promise<{ url: string; runs(): number }> {
  let runs = 0;
  const guarded = idempotency({
    store: memoryStore(),
    scope: (request) => request.headers.get('authorization') ?? 'anonymous',
    logger: { warn() {} },
    ...options,
  })(async (request) => {
    if (request.headers.get('authorization') !== 'Bearer t0ken') {
      return Response.json({ error: 'unauthorized' }, { status: 401 });
    }
    runs++;
    const body = await request.text();
    // Long enough that the concurrent duplicate arrives while the first one runs.
    await sleep(40);
    return Response.json({ id: `ch_${randomUUID()}`, body }, { status: 201 });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: guarded, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  servers.push(server);
  return { url: urlOf(server), runs: () => runs };
}

/** An API that ignores Idempotency-Key: every request is a new charge. `keys` gets each key sent. */
async function naiveApi(keys: string[] = []): Promise<string> {
  const server = createServer((request, response) => {
    const key = request.headers['idempotency-key'];
    if (typeof key === 'string') keys.push(key);
    request.resume();
    request.on('end', () => {
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: `ch_${randomUUID()}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return urlOf(server);
}

const AUTH = ['--header', 'Authorization: Bearer t0ken'];

describe('oncely check against the core helper', () => {
  let api: Awaited<ReturnType<typeof guardedApi>>;
  beforeAll(async () => {
    api = await guardedApi();
  });

  it('finds every case holding and exits 0', async () => {
    const { code, out, err } = await oncely('check', api.url, ...AUTH, '--body', '{"amount":1}');
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`oncely check: POST ${api.url}`);
    const lines = out.split('\n').filter((line) => /^[✓✗!-] /.test(line));
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line.startsWith('✓ ')).toBe(true);
    expect(out).toMatch(
      /✓ the same key and body again is replayed: expected 201 .*, got 201, same body, Idempotent-Replayed: true/,
    );
    expect(out).toContain(
      '✓ a concurrent duplicate does not run twice: expected one 2xx, the other 409 or the same response, got',
    );
    expect(out).toContain('✓ the same key with another body is refused: expected 422, got 422');
    expect(out).toContain('✓ a request without a key is refused: expected 400, got 400');
    expect(out).toContain('✓ errors are application/problem+json (RFC 9457)');
    expect(out.split('\n').at(-1)).toBe('7 of 7 hold');
  });

  it('sends one effect for the first request and one for the concurrent pair', async () => {
    const before = api.runs();
    const { code, outcomes } = await checkJson(api.url, ...AUTH);
    expect(code).toBe(0);
    expect(Object.values(outcomes)).toEqual(Array(7).fill('pass'));
    // first + concurrent pair (once) + nothing else: every other case is refused or replayed.
    expect(api.runs() - before).toBe(2);
  });

  it('passes the concurrent case when the server waits for the first response', async () => {
    const waiting = await guardedApi({ wait: true });
    const { report } = await checkJson(waiting.url, ...AUTH);
    const concurrent = report.cases.find((c) => c.id === 'concurrent');
    expect(concurrent).toMatchObject({ outcome: 'pass' });
    // The second waited for the first, or came after it: one body either way, never two effects.
    expect(concurrent?.got).toMatch(/^201 and 201, same body/);
    expect(waiting.runs()).toBe(2);
  });

  it('only warns when the API does not require keys', async () => {
    const optional = await guardedApi({ required: false });
    const { code, outcomes, report } = await checkJson(optional.url, ...AUTH);
    expect(code).toBe(0);
    expect(outcomes.missing).toBe('warn');
    expect(report.summary).toEqual({ pass: 6, fail: 0, warn: 1, skip: 0 });
  });

  it('fails from the first case on when the headers it needs are missing', async () => {
    const { code, outcomes } = await checkJson(api.url);
    expect(code).toBe(1);
    expect(outcomes.first).toBe('fail');
    expect(outcomes.replay).toBe('skip');
    expect(outcomes.reused).toBe('skip');
  });
});

/**
 * The node:http adapter in front of an API that answers the draft's cases with other statuses
 * (`statuses`, by problem name) and hashes keys longer than 255 characters instead of refusing them.
 */
async function otherStatusesApi(statuses: Record<string, number>): Promise<string> {
  let charges = 0;
  const guarded = nodeIdempotency({
    store: memoryStore(),
    scope: () => 'tenant',
    problem: ({ status, name, title }) =>
      Response.json({ error: title }, { status: statuses[name] ?? status }),
  })((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: `ch_${++charges}` }));
      }, 40);
    });
  });
  const server = createServer((req, res) => {
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string' && key.length > 255) {
      req.headers['idempotency-key'] = createHash('sha256').update(key).digest('hex');
    }
    void guarded(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return urlOf(server);
}

describe('oncely check against an API that refuses with other statuses than the draft', () => {
  it('warns, says which status the draft names, and exits 0', async () => {
    const url = await otherStatusesApi({
      'idempotency-key-in-use': 425,
      'idempotency-key-reused': 400,
      'idempotency-key-missing': 428,
    });
    const { code, report } = await checkJson(url);
    const byId = Object.fromEntries(report.cases.map((c) => [c.id, c]));
    expect(byId.first?.outcome).toBe('pass');
    expect(byId.replay?.outcome).toBe('pass');
    expect(byId.concurrent).toMatchObject({
      outcome: 'warn',
      got: expect.stringMatching(
        /^(201 and 425|425 and 201): refused, not run twice; the draft's §2\.7 says 409$/,
      ),
    });
    expect(byId.reused).toMatchObject({
      outcome: 'warn',
      got: "400: refused; the draft's §2.7 says 422",
    });
    expect(byId.missing).toMatchObject({
      outcome: 'warn',
      got: "428: refused; the draft's §2.7 says 400",
    });
    expect(byId.invalid).toMatchObject({
      outcome: 'warn',
      got: expect.stringContaining('201: accepted; the draft sets no length limit'),
    });
    expect(code).toBe(0);
  });

  it('still fails a 5xx', async () => {
    const url = await otherStatusesApi({ 'idempotency-key-reused': 500 });
    const { code, outcomes } = await checkJson(url);
    expect(outcomes.reused).toBe('fail');
    expect(code).toBe(1);
  });
});

describe('oncely check against an API that reads keys as RFC 8941 strings only', () => {
  let url: string;
  beforeAll(async () => {
    const guarded = nodeIdempotency({ store: memoryStore(), scope: () => 'tenant' })((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: randomUUID() }));
      });
    });
    const server = createServer((req, res) => {
      const key = req.headers['idempotency-key'];
      // The draft's §2.1: the value MUST be an sf-string; a strict server refuses anything else.
      if (typeof key === 'string' && !key.startsWith('"')) {
        req.resume();
        res.writeHead(400, { 'content-type': 'application/problem+json' }).end('{}');
        return;
      }
      void guarded(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    url = urlOf(server);
  });

  it('holds with --key-format sf-string', async () => {
    const { code, outcomes } = await checkJson(url, '--key-format', 'sf-string');
    expect(Object.values(outcomes)).toEqual(Array(7).fill('pass'));
    expect(code).toBe(0);
  });

  it('says to try it when the first request gets a 400', async () => {
    const { code, out } = await oncely('check', url);
    expect(code).toBe(1);
    expect(out).toContain(
      "✗ a first request with a fresh key succeeds: expected 2xx, got 400 (if the API reads the key as an RFC 8941 string, as the draft's §2.1 writes it, try --key-format sf-string)",
    );
  });
});

describe('oncely check against an API that stores the response after sending it', () => {
  it('warns when the replay finds the first request still in progress', async () => {
    // A store written once the answer is out: a retry right after it gets the draft's 409.
    const records = new Map<string, string | 'running'>();
    const server = createServer((request, response) => {
      const key = request.headers['idempotency-key'];
      request.resume();
      request.on('end', () => {
        const record = typeof key === 'string' ? records.get(key) : undefined;
        if (typeof key !== 'string' || record === 'running') {
          const status = typeof key === 'string' ? 409 : 400;
          response.writeHead(status, { 'content-type': 'application/problem+json' }).end('{}');
          return;
        }
        if (record !== undefined) {
          response.writeHead(201, { 'content-type': 'application/json' }).end(record);
          return;
        }
        records.set(key, 'running');
        const body = JSON.stringify({ id: randomUUID() });
        response.writeHead(201, { 'content-type': 'application/json' }).end(body);
        setTimeout(() => records.set(key, body), 500);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const { code, report } = await checkJson(urlOf(server));
    expect(report.cases.find((c) => c.id === 'replay')).toMatchObject({
      outcome: 'warn',
      got: '409: the first request was still in progress after its answer came; a retry gets its response once the API has stored it',
    });
    expect(code).toBe(0);
  });
});

describe('oncely check against the node:http adapter', () => {
  it('finds every case holding', async () => {
    let charges = 0;
    const guarded = nodeIdempotency({ store: memoryStore(), scope: () => 'tenant' })((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: `ch_${++charges}` }));
      });
    });
    const server = createServer((req, res) => void guarded(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const { code, outcomes } = await checkJson(urlOf(server));
    expect(outcomes).toEqual({
      first: 'pass',
      replay: 'pass',
      concurrent: 'pass',
      reused: 'pass',
      missing: 'pass',
      invalid: 'pass',
      'problem-json': 'pass',
    });
    expect(code).toBe(0);
    expect(charges).toBe(2);
  });
});

describe('oncely check against an API that ignores keys', () => {
  it('reports the replay, the concurrent duplicate and the reused key as failing', async () => {
    const url = await naiveApi();
    const { code, out } = await oncely('check', url);
    expect(code).toBe(1);
    expect(out).toContain('✓ a first request with a fresh key succeeds: expected 2xx, got 201');
    expect(out).toMatch(
      /✗ the same key and body again is replayed: expected 201 with the first response's body, got 201 with another body \{"id":"ch_.*: the request ran again/,
    );
    expect(out).toMatch(
      /✗ a concurrent duplicate does not run twice: .* got 201 and 201 with different bodies .*: a second effect/,
    );
    expect(out).toContain(
      '✗ the same key with another body is refused: expected 422, got 201: the key was accepted for another request',
    );
    expect(out).toContain(
      '! a request without a key is refused: expected 400, got 201: this API does not require keys',
    );
    expect(out).toContain(
      '! a key of 300 characters (over 255) is refused: expected 400, got 201: accepted; the draft sets no length limit',
    );
    expect(out).toContain(
      '- errors are application/problem+json (RFC 9457): expected application/problem+json, got no 4xx answer',
    );
    expect(out.split('\n').at(-1)).toBe('1 of 7 hold, 3 failed, 2 warnings, 1 skipped');
  });

  it('sends keys of its own run only, the over-long one included', async () => {
    const keys: string[] = [];
    const url = await naiveApi(keys);
    await oncely('check', url);
    const firstRun = new Set(keys.splice(0));
    await oncely('check', url);
    // 3 for the first key (first, replay, reused), 2 for the concurrent pair, 1 over-long key.
    expect(keys).toHaveLength(6);
    expect(keys.filter((key) => firstRun.has(key))).toEqual([]);
  });

  it('does not pass the replay or the concurrent pair when every request gets the same body', async () => {
    let charges = 0;
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        charges++;
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end('{"status":"accepted"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const { code, report } = await checkJson(urlOf(server));
    const byId = Object.fromEntries(report.cases.map((c) => [c.id, c]));
    const unknowable =
      /a request with another key got the same body: a second run cannot be told from a replay/;
    expect(byId.replay).toMatchObject({ outcome: 'warn', got: expect.stringMatching(unknowable) });
    expect(byId.concurrent).toMatchObject({
      outcome: 'warn',
      got: expect.stringMatching(unknowable),
    });
    expect(code).toBe(1);
    expect(charges).toBe(7);
  });

  it('warns when errors are not problem+json', async () => {
    const server = createServer((request, response) => {
      request.resume();
      const key = request.headers['idempotency-key'];
      request.on('end', () => {
        const status = key === undefined || key.length > 255 ? 400 : 201;
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(status === 201 ? '{"id":"same"}' : '{"error":"bad key"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const { report } = await checkJson(urlOf(server));
    expect(report.cases.find((c) => c.id === 'problem-json')).toMatchObject({
      outcome: 'warn',
      got: '400 application/json, 400 application/json',
    });
    // Equal bodies cannot show a second effect; the reused key is still caught.
    expect(report.cases.find((c) => c.id === 'reused')).toMatchObject({
      outcome: 'fail',
      got: '201: the first response was shown for another request',
    });
  });
});

describe('oncely check against a redirect', () => {
  it('says where the first request was sent and that it does not follow', async () => {
    let requests = 0;
    const server = createServer((request, response) => {
      requests++;
      request.resume();
      response.writeHead(308, { location: 'https://api.example.test/v2/charges' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const { code, out } = await oncely('check', urlOf(server));
    expect(code).toBe(1);
    expect(out).toContain(
      '✗ a first request with a fresh key succeeds: expected 2xx, got 308, a redirect to https://api.example.test/v2/charges (not followed: check that URL)',
    );
    // first, the concurrent pair, missing and invalid: the replay and the reused key are not sent.
    expect(requests).toBe(5);
  });
});

describe('oncely check without an answer', () => {
  it('fails every case with the reason when nothing listens', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = urlOf(server);
    await new Promise((done) => server.close(done));
    const { code, out } = await oncely('check', url);
    expect(code).toBe(1);
    expect(out).toContain(
      '✗ a first request with a fresh key succeeds: expected 2xx, got request failed: ECONNREFUSED',
    );
  });

  it('gives up on a request after --timeout', async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const started = performance.now();
    const { code, out } = await oncely('check', urlOf(server), '--timeout', '100');
    expect(code).toBe(1);
    expect(out).toContain('got no answer within 100 ms');
    expect(performance.now() - started).toBeLessThan(3_000);
    server.closeAllConnections();
  });
});

describe('oncely check usage', () => {
  it.each([
    [[], 'missing <url>'],
    [['not a url'], "invalid URL 'not a url'"],
    [['ftp://example.test/'], 'expected http:// or https://'],
    [['http://example.test/', '--method', 'GET'], 'GET is a safe method'],
    [['http://example.test/', '--header', 'no colon'], "invalid header 'no colon'"],
    [['http://example.test/', '-H', 'Idempotency-Key: x'], 'set by each case'],
    [['http://example.test/', '--timeout', '0'], '--timeout needs a positive'],
    [['http://example.test/', '--timeout', '3000000000'], '--timeout needs a positive'],
    [['http://example.test/', '-H', 'X-Tenant: 日本'], "invalid header 'X-Tenant: 日本'"],
    [['http://example.test/', '--body'], '--body needs a value'],
    [['http://example.test/', '--verbose'], "unknown option '--verbose'"],
    [['http://example.test/', '--key-format', 'quoted'], "--key-format is 'token' or 'sf-string'"],
    [['http://a.test/', 'http://b.test/'], "unexpected argument 'http://b.test/'"],
  ])('exits 2 for %j', async (args, message) => {
    const { code, err } = await oncely('check', ...args);
    expect(code).toBe(2);
    expect(err).toContain(message);
    expect(err).toContain('usage:');
  });

  it('prints its help with exit 0', async () => {
    const { code, out } = await oncely('check', '--help');
    expect(code).toBe(0);
    expect(out).toContain('oncely check <url> [options]');
  });
});

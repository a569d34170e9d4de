import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/create-client.ts';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import type { JournalEntry } from '../../src/journal/journal.ts';
import { memoryJournal } from '../../src/journal/memory.ts';
import { InvalidKeyError } from '../../src/key/invalid-key-error.ts';
import { newKey } from '../../src/key/new-key.ts';
import { BASE, record, type Seen, testClient, useServer } from './support/msw.ts';

const server = useServer();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function flaky(seen: Seen[], failures: number, status = 503) {
  return async ({ request }: { request: Request }) => {
    await record(request, seen);
    return seen.length <= failures
      ? new HttpResponse(null, { status })
      : HttpResponse.json({ ok: 1 });
  };
}

describe('keys', () => {
  it.each(['post', 'patch'] as const)(
    '%s gets a generated key, the same on every attempt',
    async (method) => {
      const seen: Seen[] = [];
      server.use(http[method](`${BASE}/things`, flaky(seen, 2)));
      const response = await testClient()[method]('/things', { json: { a: 1 } });
      expect(response.status).toBe(200);
      expect(seen).toHaveLength(3);
      expect(seen[0]?.key).toMatch(UUID);
      expect(new Set(seen.map((s) => s.key)).size).toBe(1);
      expect(seen.map((s) => s.body)).toEqual(Array(3).fill('{"a":1}'));
    },
  );

  it('draws a new key for each logical call', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/things`, flaky(seen, 0)));
    const client = testClient();
    await client.post('/things', { json: 1 });
    await client.post('/things', { json: 1 });
    expect(seen[0]?.key).not.toBe(seen[1]?.key);
  });

  it('sends a given key as is, and as an sf-string on request', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/things`, flaky(seen, 0)));
    await testClient().post('/things', { idempotencyKey: 'order-42' });
    await testClient({ keyFormat: 'sf-string' }).post('/things', { idempotencyKey: 'order-42' });
    expect(seen.map((s) => s.key)).toEqual(['order-42', '"order-42"']);
  });

  it('draws v7 keys through generateKey', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/things`, flaky(seen, 0)));
    await testClient({ generateKey: () => newKey({ version: 'v7' }) }).post('/things');
    expect(seen[0]?.key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('makes generated keys with generateKey, once per call: every attempt carries it', async () => {
    const seen: Seen[] = [];
    server.use(http.all(`${BASE}/things`, flaky(seen, 2)));
    let made = 0;
    const client = testClient({ generateKey: () => `web-${++made}` });
    await client.post('/things');
    seen.length = 0;
    await client.get('/things', { idempotencyKey: true });
    seen.length = 0;
    await client.patch('/things');
    expect(seen.map((s) => s.key)).toEqual(['web-3', 'web-3', 'web-3']);
    expect(made).toBe(3);
  });

  it('leaves generateKey alone when the call gives a key, has one in its headers, or needs none', async () => {
    const seen: Seen[] = [];
    server.use(http.all(`${BASE}/things`, flaky(seen, 0)));
    let made = 0;
    const client = testClient({ generateKey: () => `web-${++made}` });
    await client.post('/things', { idempotencyKey: 'given' });
    await client.post('/things', { headers: { 'Idempotency-Key': 'in-header' } });
    await client.post('/things', { idempotencyKey: false });
    await client.get('/things');
    expect(seen.map((s) => s.key)).toEqual(['given', 'in-header', null, null]);
    expect(made).toBe(0);
  });

  it('refuses an invalid generated key with InvalidKeyError before anything is sent', async () => {
    const seen: Seen[] = [];
    server.use(http.all(`${BASE}/things`, flaky(seen, 0)));
    for (const bad of ['', 'has space', 'é', 'x'.repeat(256), 42]) {
      const error = await testClient({ generateKey: () => bad as string })
        .post('/things')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect(error).toMatchObject({ code: 'INVALID_KEY', key: bad });
    }
    expect(seen).toHaveLength(0);
  });

  it('uses a key already in the headers', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/things`, flaky(seen, 1)));
    await testClient().post('/things', { headers: { 'Idempotency-Key': '"k-1"' } });
    expect(seen.map((s) => s.key)).toEqual(['"k-1"', '"k-1"'].map((k) => k.replaceAll('"', '')));
  });

  it('refuses an invalid key before anything is sent', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/things`, flaky(seen, 0)));
    for (const bad of ['', 'has space', 'é', 'x'.repeat(256)]) {
      const error = await testClient()
        .post('/things', { idempotencyKey: bad })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect(isOncelyError(error, 'INVALID_KEY')).toBe(true);
    }
    expect(seen).toHaveLength(0);
  });

  it('sends no key when the call opts out, and then does not retry a POST', async () => {
    const seen: Seen[] = [];
    server.use(http.post(`${BASE}/things`, flaky(seen, 5)));
    const error = await testClient()
      .post('/things', { idempotencyKey: false })
      .catch((e: unknown) => e);
    expect(isOncelyError(error, 'HTTP_ERROR')).toBe(true);
    expect(seen).toEqual([{ method: 'POST', key: null, body: '' }]);
  });

  it.each(['get', 'put', 'delete'] as const)('%s carries no key but is retried', async (method) => {
    const seen: Seen[] = [];
    server.use(http[method](`${BASE}/things`, flaky(seen, 2)));
    expect((await testClient()[method]('/things')).status).toBe(200);
    expect(seen.map((s) => s.key)).toEqual([null, null, null]);
  });

  it('retries any method that carries a key, and a POST with a key given', async () => {
    const seen: Seen[] = [];
    server.use(http.all(`${BASE}/things`, flaky(seen, 1)));
    const client = testClient();
    await client.fetch(`${BASE}/things`, { method: 'LINK', idempotencyKey: 'k-link' });
    expect(seen.map((s) => [s.method, s.key])).toEqual([
      ['LINK', 'k-link'],
      ['LINK', 'k-link'],
    ]);
  });

  it('generates a key for any method with idempotencyKey: true', async () => {
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/things`, flaky(seen, 0)));
    await testClient().get('/things', { idempotencyKey: true });
    expect(seen[0]?.key).toMatch(UUID);
  });
});

describe('operation keys and journal ids', () => {
  function charges(seen: Seen[]) {
    server.use(http.post(`${BASE}/charges`, flaky(seen, 1)));
    const journal = memoryJournal();
    const written: JournalEntry[] = [];
    const put = journal.put.bind(journal);
    journal.put = (entry) => {
      written.push(structuredClone(entry));
      return put(entry);
    };
    return { journal, written };
  }

  it('gives an operation without a key builder a key from generateKey, and a v4 id', async () => {
    const seen: Seen[] = [];
    const { journal, written } = charges(seen);
    let made = 0;
    const client = testClient({ journal, generateKey: () => `op-${++made}` });
    const charge = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: { amount: 5 } }),
    });
    await charge.run(undefined);
    await charge.run(undefined);
    // The first run's first attempt fails (503): its retry carries the same key.
    expect(seen.map((s) => s.key)).toEqual(['op-1', 'op-1', 'op-2']);
    expect(written.map((e) => e.key)).toEqual(['op-1', 'op-2']);
    for (const entry of written) expect(entry.id).toMatch(UUID);
    expect(written[0]?.id).not.toBe(written[1]?.id);
  });

  it('draws v4 journal ids with the default generator too, apart from the key', async () => {
    const seen: Seen[] = [];
    const { journal, written } = charges(seen);
    const charge = testClient({ journal }).operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: { amount: 5 } }),
    });
    await charge.run(undefined);
    const [entry] = written;
    expect(entry?.id).toMatch(UUID);
    expect(entry?.key).toMatch(UUID);
    expect(entry?.id).not.toBe(entry?.key);
  });

  it('refuses an invalid generated key before anything is journaled or sent', async () => {
    const seen: Seen[] = [];
    const { journal, written } = charges(seen);
    const client = testClient({ journal, generateKey: () => 'has space' });
    const charge = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: { amount: 5 } }),
    });
    for (const durable of [true, false]) {
      const error = await charge.run(undefined, { durable }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidKeyError);
    }
    expect(written).toEqual([]);
    expect(seen).toEqual([]);
  });
});

describe('URLs', () => {
  it('refuses a relative URL without baseUrl at once, without sending or retrying', async () => {
    const seen: Seen[] = [];
    server.use(http.all(`${BASE}/*`, flaky(seen, 0)));
    const error = await createClient()
      .get('/things')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(seen).toHaveLength(0);
  });

  it('resolves against baseUrl', async () => {
    const seen: Seen[] = [];
    server.use(http.get(`${BASE}/v1/things`, flaky(seen, 0)));
    await createClient({ baseUrl: `${BASE}/v1/` }).get('things');
    expect(seen).toHaveLength(1);
  });
});

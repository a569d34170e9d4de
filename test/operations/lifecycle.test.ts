import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import type { JournalEntry } from '../../src/journal/journal.ts';
import { memoryJournal } from '../../src/journal/memory.ts';
import { keyFrom } from '../../src/key/key-from.ts';
import { useServer } from '../client/support/msw.ts';
import { BASE, opsClient, spyJournal } from './support.ts';

const server = useServer();

interface Sent {
  key: string | null;
  authorization: string | null;
  cookie: string | null;
  apiKey: string | null;
  body: string;
  journal: JournalEntry[];
}

/** Records each request with what the journal held when it arrived. */
function recorder(journal: { list(): Promise<JournalEntry[]> }, status = 201) {
  const sent: Sent[] = [];
  const handler = async ({ request }: { request: Request }) => {
    sent.push({
      key: request.headers.get('idempotency-key'),
      authorization: request.headers.get('authorization'),
      cookie: request.headers.get('cookie'),
      apiKey: request.headers.get('x-api-key'),
      body: await request.text(),
      journal: await journal.list(),
    });
    return HttpResponse.json({ id: 'ch_1' }, { status });
  };
  return { sent, handler };
}

describe('op.run', () => {
  it('journals the operation durably before the first attempt, then removes it', async () => {
    const { journal, calls } = spyJournal(memoryJournal());
    const { sent, handler } = recorder(journal);
    server.use(http.post(`${BASE}/charges`, handler));
    const client = opsClient({ journal });
    const charge = client.operation('charge', {
      request: (input: { amount: number }) => ({ url: '/charges', method: 'POST', json: input }),
    });

    const response = await charge.run({ amount: 500 });

    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: 'ch_1' });
    expect(sent).toHaveLength(1);
    const [entry] = sent[0]?.journal ?? [];
    expect(entry).toMatchObject({
      name: 'charge',
      key: sent[0]?.key,
      state: 'running',
      input: { amount: 500 },
      request: { url: '/charges', method: 'POST', body: { type: 'json', value: { amount: 500 } } },
    });
    expect(entry?.expiresAt).toBe((entry?.createdAt ?? 0) + 23 * 60 * 60 * 1000);
    expect(calls).toEqual(['put', 'delete']);
    expect(await journal.list()).toEqual([]);
  });

  it('sends with the key its builder makes, and a random one without a builder', async () => {
    const journal = memoryJournal();
    const { sent, handler } = recorder(journal);
    server.use(http.post(`${BASE}/charges`, handler));
    const client = opsClient({ journal });
    const keyed = client.operation('pay-order', {
      request: (order: string) => ({ url: '/charges', method: 'POST', json: { order } }),
      key: (order) => keyFrom('pay', order),
    });
    const random = client.operation('tip', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    await keyed.run('o-1');
    await random.run(undefined);
    await random.run(undefined);
    expect(sent[0]?.key).toBe(await keyFrom('pay', 'o-1'));
    expect(sent[1]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[2]?.key).not.toBe(sent[1]?.key);
  });

  it('refuses an invalid key from a builder before writing or sending anything', async () => {
    const { journal, calls } = spyJournal(memoryJournal());
    const client = opsClient({ journal });
    const op = client.operation('bad', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
      key: () => 'not a valid key\n',
    });
    const error = await op.run(undefined).catch((e: unknown) => e);
    expect(isOncelyError(error, 'INVALID_KEY')).toBe(true);
    expect(calls).toEqual([]);
  });

  it('refuses what fetch would (a bad URL or method, a GET with a body) with TypeError before writing or sending anything', async () => {
    const { journal, calls } = spyJournal(memoryJournal());
    let sent = 0;
    server.use(http.all(`${BASE}/*`, () => void sent++));
    const client = opsClient({ journal });
    const refused = [
      { url: 'http://[not-a-host/charges', method: 'POST', json: {} },
      { url: '/charges', method: 'GET', body: 'x' },
      { url: '/charges', method: 'TRACE' },
      { url: '/charges', method: 'BAD METHOD' },
    ];
    for (const [i, request] of refused.entries()) {
      const op = client.operation(`refused-${i}`, { request: () => request });
      await expect(op.run(undefined)).rejects.toThrow(TypeError);
      await expect(op.run(undefined, { durable: false })).rejects.toThrow(TypeError);
    }
    expect(calls).toEqual([]);
    expect(sent).toBe(0);
  });

  it('never writes Authorization, Cookie, Proxy-Authorization or a marked header, but sends them', async () => {
    const journal = memoryJournal();
    const { sent, handler } = recorder(journal);
    server.use(http.post(`${BASE}/charges`, handler));
    const client = opsClient({ journal, secretHeaders: ['X-Api-Key'] });
    const op = client.operation('charge', {
      request: () => ({
        url: '/charges',
        method: 'POST',
        headers: {
          authorization: 'Bearer live-token',
          cookie: 'sid=1',
          'proxy-authorization': 'Basic x',
          'x-api-key': 'k-123',
          'x-trace': 't-1',
        },
        json: { amount: 1 },
      }),
    });
    await op.run(undefined);
    expect(sent[0]).toMatchObject({ authorization: 'Bearer live-token', apiKey: 'k-123' });
    const written = JSON.stringify(sent[0]?.journal);
    for (const secret of ['live-token', 'sid=1', 'Basic x', 'k-123']) {
      expect(written).not.toContain(secret);
    }
    expect(sent[0]?.journal[0]?.request.headers).toEqual([['x-trace', 't-1']]);
  });

  it('asks the headers hook at send time, and lets the request own headers win', async () => {
    const journal = memoryJournal();
    const { sent, handler } = recorder(journal);
    server.use(http.post(`${BASE}/charges`, handler));
    let token = 'first';
    const client = opsClient({
      journal,
      headers: async () => ({ Authorization: `Bearer ${token}` }),
    });
    const op = client.operation('charge', {
      request: (own?: string) => ({
        url: '/charges',
        method: 'POST',
        headers: own ? { authorization: own } : new Headers(),
        json: {},
      }),
    });
    await op.run(undefined);
    token = 'second';
    await op.run(undefined);
    await op.run('Bearer own');
    expect(sent.map((s) => s.authorization)).toEqual([
      'Bearer first',
      'Bearer second',
      'Bearer own',
    ]);
    // Plain calls get the hook too.
    await client.post('/charges', { json: {} });
    expect(sent[3]?.authorization).toBe('Bearer second');
  });

  it('refuses a ReadableStream body with NotPersistableError before sending, unless durable: false', async () => {
    const { journal, calls } = spyJournal(memoryJournal());
    const { sent, handler } = recorder(journal);
    server.use(http.post(`${BASE}/upload`, handler));
    const client = opsClient({ journal });
    const stream = () =>
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('bytes'));
          controller.close();
        },
      });
    const upload = client.operation('upload', {
      request: () => ({ url: '/upload', method: 'POST', body: stream() }),
    });
    const error = await upload.run(undefined).catch((e: unknown) => e);
    expect(isOncelyError(error, 'NOT_PERSISTABLE')).toBe(true);
    expect(sent).toEqual([]);
    expect(calls).toEqual([]);

    const response = await upload.run(undefined, { durable: false });
    expect(response.status).toBe(201);
    expect(sent[0]?.body).toBe('bytes');
    expect(sent[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls).toEqual([]);

    const streaming = client.operation('stream', {
      durable: false,
      request: () => ({ url: '/upload', method: 'POST', body: stream() }),
    });
    expect((await streaming.run(undefined)).status).toBe(201);
  });

  it('turns a journal write failure into JournalError and sends nothing', async () => {
    const { journal, failing } = spyJournal(memoryJournal());
    const { sent, handler } = recorder(journal);
    server.use(http.post(`${BASE}/charges`, handler));
    failing.put = true;
    const client = opsClient({ journal });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    const error = await op.run(undefined).catch((e: unknown) => e);
    expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(sent).toEqual([]);
  });

  it('throws DuplicateOperationError for a second definition under one name', () => {
    const client = opsClient();
    const definition = { request: () => ({ url: '/x' }) };
    client.operation('twice', definition);
    let error: unknown;
    try {
      client.operation('twice', definition);
    } catch (e) {
      error = e;
    }
    expect(isOncelyError(error, 'DUPLICATE_OPERATION')).toBe(true);
  });

  it('settles a refusal as failed: onError gets it, the caller gets HttpError, the record goes', async () => {
    const { journal, calls } = spyJournal(memoryJournal());
    let hits = 0;
    server.use(
      http.post(`${BASE}/charges`, () => {
        hits++;
        return HttpResponse.json({ error: 'declined' }, { status: 402 });
      }),
    );
    const errors: Array<[string, unknown]> = [];
    const client = opsClient({ journal });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
      onError: (error, input) => {
        errors.push([(error as { code?: string }).code ?? '', input]);
      },
    });
    const error = await op.run('in').catch((e: unknown) => e);
    expect(isOncelyError(error, 'HTTP_ERROR')).toBe(true);
    expect(hits).toBe(1);
    expect(errors).toEqual([['HTTP_ERROR', 'in']]);
    expect(calls).toEqual(['put', 'delete']);
  });

  it('gives onSuccess a clone, so the caller can still read the body', async () => {
    server.use(http.post(`${BASE}/charges`, () => HttpResponse.json({ id: 'ch_9' })));
    const seen: unknown[] = [];
    const client = opsClient();
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
      onSuccess: async (response, _input, info) => {
        seen.push(await response.json(), info.detached, info.attempts);
      },
    });
    const response = await op.run(undefined);
    expect(await response.json()).toEqual({ id: 'ch_9' });
    expect(seen).toEqual([{ id: 'ch_9' }, false, 1]);
  });

  it('keeps a settled record for keepSettledMs, then resume() sweeps it', async () => {
    server.use(
      http.post(`${BASE}/ok`, () => HttpResponse.json({})),
      http.post(`${BASE}/no`, () => HttpResponse.json({}, { status: 400 })),
    );
    const journal = memoryJournal();
    const client = opsClient({ journal, keepSettledMs: 500 });
    const ok = client.operation('ok', { request: () => ({ url: '/ok', method: 'POST' }) });
    const no = client.operation('no', { request: () => ({ url: '/no', method: 'POST' }) });
    await ok.run(undefined);
    await no.run(undefined).catch(() => {});
    const kept = await journal.list();
    expect(kept.map((e) => [e.name, e.state, e.attempts])).toEqual([
      ['ok', 'succeeded', 1],
      ['no', 'failed', 1],
    ]);
    expect(kept[1]?.lastError).toMatchObject({ code: 'HTTP_ERROR', status: 400 });
    await client.resume();
    expect(await journal.list()).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 520));
    await client.resume();
    expect(await journal.list()).toEqual([]);
  });

  it('ends the operation on abort: the record goes and nothing retries it', async () => {
    const journal = memoryJournal();
    let hits = 0;
    server.use(
      http.post(`${BASE}/slow`, async () => {
        hits++;
        await new Promise((resolve) => setTimeout(resolve, 200));
        return HttpResponse.json({});
      }),
    );
    const client = opsClient({ journal });
    const op = client.operation('slow', { request: () => ({ url: '/slow', method: 'POST' }) });
    const controller = new AbortController();
    const running = op.run(undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user left')), 20);
    await expect(running).rejects.toThrow('user left');
    expect(await journal.list()).toEqual([]);
    expect(hits).toBe(1);
  });

  it('refuses to run after close()', async () => {
    const client = opsClient();
    const op = client.operation('x', { request: () => ({ url: '/x', method: 'POST' }) });
    await client.close();
    const error = await op.run(undefined).catch((e: unknown) => e);
    expect(isOncelyError(error, 'CLIENT_CLOSED')).toBe(true);
  });
});

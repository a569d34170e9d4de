import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { memoryJournal } from '../../src/journal/memory.ts';
import { idempotentServer } from '../client/support/idempotent-server.ts';
import { useServer } from '../client/support/msw.ts';
import { BASE, opsClient, orphan } from './support.ts';

const server = useServer();

function charges() {
  const keys: Array<string | null> = [];
  const authorizations: Array<string | null> = [];
  const api = idempotentServer((body) => ({ status: 201, body: { charged: body } }));
  server.use(
    http.post(`${BASE}/charges`, async ({ request }) => {
      keys.push(request.headers.get('idempotency-key'));
      authorizations.push(request.headers.get('authorization'));
      return api.handle({ request });
    }),
  );
  return { keys, authorizations, api };
}

describe('client.resume()', () => {
  it('runs unsettled operations again with their original key, through their definition', async () => {
    const { keys, api } = charges();
    const journal = memoryJournal();
    const first = orphan({ state: 'running' });
    const second = orphan({
      state: 'pending',
      input: { amount: 9 },
      createdAt: first.createdAt + 1,
    });
    await journal.put(first);
    await journal.put(second);

    const outcomes: unknown[] = [];
    const client = opsClient({ journal });
    client.operation('charge', {
      request: () => {
        throw new Error('not called on resume: the journaled request is sent');
      },
      onSuccess: async (response, input, info) => {
        outcomes.push([await response.json(), input, info.key, info.detached, info.attempts]);
      },
    });
    const summary = await client.resume();

    expect(summary).toMatchObject({
      locked: false,
      resumed: 2,
      failed: [],
      expired: [],
      unknown: [],
    });
    expect(summary.succeeded.map((s) => s.id)).toEqual([first.id, second.id]);
    expect(keys).toEqual([first.key, second.key]);
    expect(outcomes).toEqual([
      [{ charged: { amount: 5 } }, { amount: 5 }, first.key, true, 2],
      [{ charged: { amount: 5 } }, { amount: 9 }, second.key, true, 2],
    ]);
    expect(api.state.effects).toBe(2);
    expect(await journal.list()).toEqual([]);
  });

  it('gets a stored answer back when the server already did the work before the crash', async () => {
    const { api } = charges();
    const journal = memoryJournal();
    const entry = orphan();
    // The first attempt reached the server, which acted; the process died before the answer.
    await fetch(`${BASE}/charges`, {
      method: 'POST',
      headers: { 'idempotency-key': entry.key },
      body: JSON.stringify({ amount: 5 }),
    });
    await journal.put(entry);
    let replayed: string | null = null;
    const client = opsClient({ journal });
    client.operation('charge', {
      request: () => ({ url: '/charges' }),
      onSuccess: (response) => {
        replayed = response.headers.get('idempotent-replayed');
      },
    });
    await client.resume();
    expect(replayed).toBe('true');
    expect(api.state.effects).toBe(1);
  });

  it('authenticates a resumed operation with the current token from the headers hook', async () => {
    const { authorizations } = charges();
    const journal = memoryJournal();
    await journal.put(orphan());
    const client = opsClient({ journal, headers: () => ({ authorization: 'Bearer fresh' }) });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    await client.resume();
    expect(authorizations).toEqual(['Bearer fresh']);
  });

  it('gives onError a refusal, and settles the operation as failed', async () => {
    server.use(http.post(`${BASE}/charges`, () => HttpResponse.json({}, { status: 422 })));
    const journal = memoryJournal();
    const entry = orphan();
    await journal.put(entry);
    const errors: string[] = [];
    const client = opsClient({ journal });
    client.operation('charge', {
      request: () => ({ url: '/charges' }),
      onError: (error) => {
        errors.push((error as { code?: string }).code ?? '');
      },
    });
    const summary = await client.resume();
    expect(summary.failed.map((f) => [f.id, (f.error as { code?: string }).code])).toEqual([
      [entry.id, 'KEY_REUSED'],
    ]);
    expect(errors).toEqual(['KEY_REUSED']);
    expect(await journal.list()).toEqual([]);
  });

  it('settles as failed a journaled request that cannot be built, and goes on with the others', async () => {
    const { keys } = charges();
    const journal = memoryJournal();
    const broken = orphan({
      request: { url: 'http://[not-a-host/charges', method: 'POST', headers: [] },
    });
    const badHeader = orphan({
      request: { url: `${BASE}/charges`, method: 'POST', headers: [['bad header', 'x']] },
      createdAt: broken.createdAt + 1,
    });
    const badMethod = orphan({
      request: { url: `${BASE}/charges`, method: 'TRACE', headers: [] },
      createdAt: broken.createdAt + 2,
    });
    const sound = orphan({ createdAt: broken.createdAt + 3 });
    await journal.put(broken);
    await journal.put(badHeader);
    await journal.put(badMethod);
    await journal.put(sound);
    const errors: unknown[] = [];
    const client = opsClient({ journal });
    client.operation('charge', {
      request: () => ({ url: '/charges' }),
      onError: (error) => {
        errors.push(error);
      },
    });
    const summary = await client.resume();
    expect(summary.failed.map((f) => [f.id, f.error instanceof TypeError])).toEqual([
      [broken.id, true],
      [badHeader.id, true],
      [badMethod.id, true],
    ]);
    expect(summary.succeeded.map((s) => s.id)).toEqual([sound.id]);
    expect(errors).toHaveLength(3);
    for (const error of errors) expect(error).toBeInstanceOf(TypeError);
    expect(keys).toEqual([sound.key]);
    expect(await journal.list()).toEqual([]);
  });

  it('keeps and reports an operation whose name has no definition, never sending or dropping it', async () => {
    const { keys } = charges();
    const journal = memoryJournal();
    const entry = orphan({ name: 'refund' });
    await journal.put(entry);
    const reported: string[] = [];
    const client = opsClient({ journal, onUnknownOperation: (e) => void reported.push(e.id) });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    const summary = await client.resume();
    expect(summary.unknown.map((e) => e.id)).toEqual([entry.id]);
    expect(summary.resumed).toBe(0);
    expect(reported).toEqual([entry.id]);
    expect(keys).toEqual([]);
    expect(await journal.get(entry.id)).toMatchObject({ state: 'running', name: 'refund' });

    // Defined later (a lazily loaded module): the next pass runs it.
    client.operation('refund', { request: () => ({ url: '/charges' }) });
    expect((await client.resume()).succeeded.map((s) => s.id)).toEqual([entry.id]);
  });

  it('moves an operation past its lifetime to expired, reports it, and keeps it', async () => {
    const { keys } = charges();
    const journal = memoryJournal();
    const old = orphan({ createdAt: Date.now() - 25 * 3_600_000, expiresAt: undefined });
    const dated = orphan({ expiresAt: Date.now() - 1 });
    await journal.put(old);
    await journal.put(dated);
    const expired: string[] = [];
    const client = opsClient({ journal, onExpired: (entry) => void expired.push(entry.id) });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    const summary = await client.resume();
    expect(summary.expired.map((e) => e.id)).toEqual([old.id, dated.id]);
    expect(expired).toEqual([old.id, dated.id]);
    expect(keys).toEqual([]);
    expect((await journal.list()).map((e) => e.state)).toEqual(['expired', 'expired']);
    // Expired records stay for the application: later passes leave them alone.
    await client.resume();
    expect(await journal.list()).toHaveLength(2);
  });

  it('does nothing while another holder has the journal lock, unless asked to wait', async () => {
    const { keys } = charges();
    const journal = memoryJournal();
    await journal.put(orphan());
    const held = await journal.lock();
    const client = opsClient({ journal });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    expect(await client.resume()).toMatchObject({ locked: true, resumed: 0 });
    expect(keys).toEqual([]);

    const waiting = client.resume({ wait: true });
    await held?.release();
    expect((await waiting).succeeded).toHaveLength(1);
    expect(keys).toHaveLength(1);
  });

  it('schedules an operation whose Retry-After is not over, instead of sending it now', async () => {
    const { keys } = charges();
    const journal = memoryJournal();
    const entry = orphan({ state: 'pending', nextAttemptAt: Date.now() + 150 });
    await journal.put(entry);
    let done = false;
    const client = opsClient({ journal });
    client.operation('charge', {
      request: () => ({ url: '/charges' }),
      onSuccess: () => {
        done = true;
      },
    });
    const summary = await client.resume();
    expect(summary.pending.map((p) => p.id)).toEqual([entry.id]);
    expect(keys).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(true);
    expect(keys).toEqual([entry.key]);
    await client.close();
  });

  it('starts a pass by itself with resume: true, once definitions are registered', async () => {
    const { keys } = charges();
    const journal = memoryJournal();
    const entry = orphan();
    await journal.put(entry);
    const client = opsClient({ journal, resume: true });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    const summary = await client.resume();
    expect(summary.succeeded.map((s) => s.id)).toEqual([entry.id]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(keys).toEqual([entry.key]);
  });

  it('resumes by itself with resume: true, without a call', async () => {
    const { keys } = charges();
    const journal = memoryJournal();
    const entry = orphan();
    await journal.put(entry);
    const client = opsClient({ journal, resume: true });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(keys).toEqual([entry.key]);
    expect(await journal.list()).toEqual([]);
  });

  it('leaves alone an operation of this session whose journal write is still under way', async () => {
    const { keys } = charges();
    const inner = memoryJournal();
    // The record is visible before the write is acknowledged, as in a journal mid-fsync.
    const journal = {
      ...inner,
      async put(entry: Parameters<typeof inner.put>[0]) {
        await inner.put(entry);
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
    };
    const client = opsClient({ journal });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    const running = op.run(undefined);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await inner.list()).toHaveLength(1);
    expect((await client.resume()).resumed).toBe(0);
    await running;
    expect(keys).toHaveLength(1);
  });
});

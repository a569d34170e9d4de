import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { OperationPendingError } from '../../src/client/operations/errors/operation-pending-error.ts';
import type { Journal } from '../../src/journal/journal.ts';
import { memoryJournal } from '../../src/journal/memory.ts';
import { useServer } from '../client/support/msw.ts';
import { BASE, eventually, onlineEvents, opsClient, orphan } from './support.ts';

const server = useServer();

/** Answers 503 `failures` times, then 201; logs each attempt's key. */
function flaky(failures: number) {
  const keys: Array<string | null> = [];
  server.use(
    http.post(`${BASE}/charges`, ({ request }) => {
      keys.push(request.headers.get('idempotency-key'));
      if (keys.length <= failures) return new HttpResponse(null, { status: 503 });
      return HttpResponse.json({ ok: true }, { status: 201 });
    }),
  );
  return keys;
}

const restore: Array<() => void> = [];
afterEach(() => {
  for (const undo of restore.splice(0)) undo();
});

describe('durable operations at the edges', () => {
  it('sends nothing in the background once close() resolved, even when a round was reading the journal', async () => {
    const keys = flaky(100);
    const inner = memoryJournal();
    // A slow read (IndexedDB takes a few ms): the background round is in it when close() is called.
    let reading: (() => void) | undefined;
    let slow = false;
    const journal: Journal = {
      ...inner,
      async get(id) {
        if (slow) {
          slow = false;
          await new Promise<void>((resolve) => (reading = resolve));
        }
        return inner.get(id);
      },
    };
    const client = opsClient({ journal, retry: false, backgroundRetry: { base: 20, cap: 20 } });
    const op = client.operation('charge', {
      request: () => ({ url: '/charges', method: 'POST', json: {} }),
    });
    slow = true;
    await expect(op.run(undefined)).rejects.toBeInstanceOf(OperationPendingError);
    await eventually(() => reading !== undefined);
    await client.close();
    reading?.();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(keys).toHaveLength(1);
    expect((await inner.list())[0]?.state).toBe('pending');
  });

  it('leaves alone a record of a newer format: an older tab never misreads what a newer release wrote', async () => {
    const keys = flaky(0);
    const journal = memoryJournal();
    const newer = orphan({ version: 2 });
    await journal.put(newer);
    const client = opsClient({ journal });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    const summary = await client.resume();
    expect(summary.resumed).toBe(0);
    expect(keys).toEqual([]);
    expect(await journal.list()).toEqual([newer]);
    // A settled one of a newer format is not swept either: its fields may mean something else.
    const settled = orphan({ version: 2, state: 'succeeded', updatedAt: 0 });
    await journal.put(settled);
    await client.resume();
    expect(await journal.list()).toHaveLength(2);
    await client.close();
  });

  it('rejects resume({ wait, signal }) with the signal’s reason when the wait is given up', async () => {
    const journal = memoryJournal();
    const held = await journal.lock();
    const client = opsClient({ journal });
    const controller = new AbortController();
    const reason = new Error('left the page');
    const waiting = client.resume({ wait: true, signal: controller.signal });
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await held?.release();
    await client.close();
  });

  it('brings forward on `online` an operation a resume found waiting on its backoff', async () => {
    const target = onlineEvents(restore);
    const keys = flaky(0);
    const journal = memoryJournal();
    // Left by a session that went offline: the next background round a minute away.
    const entry = orphan({
      state: 'pending',
      nextAttemptAt: Date.now() + 60_000,
      lastError: { code: 'RETRY_LIMIT', message: 'offline' },
    });
    await journal.put(entry);
    let done = false;
    const client = opsClient({ journal });
    client.operation('charge', {
      request: () => ({ url: '/charges' }),
      onSuccess: () => {
        done = true;
      },
    });
    expect((await client.resume()).pending).toHaveLength(1);
    target.dispatchEvent(new Event('online'));
    await eventually(() => done);
    expect(keys).toEqual([entry.key]);
    await client.close();
  });

  it('keeps a server-named time on `online` after a resume, and still reports the expiry on time', async () => {
    const target = onlineEvents(restore);
    const keys = flaky(0);
    const journal = memoryJournal();
    const entry = orphan({
      state: 'pending',
      nextAttemptAt: Date.now() + 3_600_000,
      expiresAt: Date.now() + 80,
      lastError: { code: 'RETRY_AFTER_TOO_LONG', message: 'come back in an hour', status: 503 },
    });
    await journal.put(entry);
    const expired: string[] = [];
    const client = opsClient({ journal, onExpired: (e) => void expired.push(e.id) });
    client.operation('charge', { request: () => ({ url: '/charges' }) });
    expect((await client.resume()).pending).toHaveLength(1);
    target.dispatchEvent(new Event('online'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(keys).toEqual([]);
    await eventually(() => expired.length > 0, 1_000);
    expect(expired).toEqual([entry.id]);
    expect(keys).toEqual([]);
    await client.close();
  });
});

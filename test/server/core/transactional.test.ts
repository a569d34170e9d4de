import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/server/core/engine.ts';
import { idempotency } from '../../../src/server/core/idempotency.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';
import type { TransactionalStore } from '../../../src/server/stores/store.ts';
import { post, problemOf } from './helpers.ts';

/** The handler's side of a transaction: writes staged until commit. */
interface Tx {
  writes: string[];
}

/**
 * A small transactional store over the memory store: claim, run the work with a staging
 * transaction, then commit the staged writes with the completed record, or drop both.
 */
function transactionalMemory(failCommit = false) {
  const inner = memoryStore();
  const committed: string[] = [];
  const store: TransactionalStore<Tx> = {
    ...inner,
    async transact(id, record, work) {
      const existing = await inner.claim(id, record);
      if (existing !== undefined) return { outcome: 'existing', record: existing };
      const tx: Tx = { writes: [] };
      let completed: Awaited<ReturnType<typeof work>>;
      try {
        completed = await work(tx);
      } catch {
        await inner.release(id, record.owner);
        return { outcome: 'rolled-back' };
      }
      if (completed === undefined) {
        await inner.release(id, record.owner);
        return { outcome: 'rolled-back' };
      }
      if (failCommit) {
        await inner.release(id, record.owner);
        throw new Error('commit failed');
      }
      committed.push(...tx.writes);
      await inner.complete(id, record.owner, completed);
      return { outcome: 'completed' };
    },
  };
  return { store, committed };
}

function guard(
  respond: (tx: Tx, request: Request) => Response | Promise<Response>,
  options: { failCommit?: boolean; maxBodyBytes?: number } = {},
) {
  const { store, committed } = transactionalMemory(options.failCommit);
  let runs = 0;
  const guarded = idempotency<Tx>({
    store,
    transactional: true,
    scope: () => 'tenant',
    maxBodyBytes: options.maxBodyBytes,
  })(async (request, context) => {
    runs++;
    if (context.tx === undefined) throw new Error('no transaction given');
    return respond(context.tx, request);
  });
  return {
    guarded,
    committed,
    get runs() {
      return runs;
    },
  };
}

describe('transactional mode', () => {
  it('commits the handler’s writes with the stored response, and replays it', async () => {
    const t = guard(async (tx, request) => {
      const { amount } = (await request.json()) as { amount: number };
      tx.writes.push(`charge ${amount}`);
      return Response.json({ charged: amount }, { status: 201, headers: { 'x-id': 'ch_1' } });
    });
    const first = await t.guarded(post('k'));
    expect(first.status).toBe(201);
    expect(first.headers.get('x-id')).toBe('ch_1');
    const firstBody = await first.text();
    const again = await t.guarded(post('k'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstBody);
    expect(t.committed).toEqual(['charge 100']);
    expect(t.runs).toBe(1);
  });

  it('rolls the writes back with an answer that is not stored, so a retry runs again', async () => {
    let status = 503;
    const t = guard((tx) => {
      tx.writes.push(`write at ${status}`);
      return new Response('x', { status });
    });
    expect((await t.guarded(post('k'))).status).toBe(503);
    expect(t.committed).toEqual([]);
    status = 201;
    expect((await t.guarded(post('k'))).status).toBe(201);
    expect(t.committed).toEqual(['write at 201']);
    expect(t.runs).toBe(2);
  });

  it('rolls back and throws on when the handler throws', async () => {
    const t = guard((tx) => {
      tx.writes.push('half done');
      throw new Error('handler broke');
    });
    await expect(t.guarded(post('k'))).rejects.toThrow('handler broke');
    expect(t.committed).toEqual([]);
  });

  it('rolls back on a network error answer (Response.error()), so a retry runs again', async () => {
    let fail = true;
    const t = guard((tx) => {
      tx.writes.push(fail ? 'half done' : 'done');
      return fail ? Response.error() : new Response('ok', { status: 201 });
    });
    expect((await t.guarded(post('k'))).type).toBe('error');
    expect(t.committed).toEqual([]);
    fail = false;
    expect((await t.guarded(post('k'))).status).toBe(201);
    expect(t.committed).toEqual(['done']);
    expect(t.runs).toBe(2);
  });

  it('rolls back a status no replay can carry in any adapter driving the transaction', async () => {
    // Hono's transactional path hands Transaction.run its own answers, without the web wrapper's
    // Response.error() check: the transaction itself must refuse a status outside 200-599.
    const { store, committed } = transactionalMemory();
    const events: string[] = [];
    const engine = createEngine<null>({
      store,
      transactional: true,
      scope: () => 'tenant',
      onEvent: (event) => events.push(event.type),
    });
    const decision = await engine.begin({
      method: 'POST',
      path: '/charges',
      header: (name) => (name.toLowerCase() === 'idempotency-key' ? 'k' : undefined),
      body: undefined,
      request: null,
    });
    if (decision.kind !== 'transact') throw new Error(`expected transact, got ${decision.kind}`);
    const result = await decision.transaction.run(async (tx: Tx) => {
      tx.writes.push('half done');
      return { status: 0, headers: new Headers(), body: new Uint8Array(0) };
    });
    expect(result).toMatchObject({ kind: 'ran', stored: false });
    expect(committed).toEqual([]);
    expect(events).toContain('release');
  });

  it('answers 500 for a response too large to store: nothing committed, no false success', async () => {
    const t = guard(
      (tx) => {
        tx.writes.push('big');
        return new Response('x'.repeat(100), { status: 201 });
      },
      { maxBodyBytes: 10 },
    );
    const response = await t.guarded(post('k'));
    expect(response.status).toBe(500);
    expect(await problemOf(response)).toMatchObject({
      type: 'https://oncely.dev/problems/idempotency-response-too-large',
    });
    expect(t.committed).toEqual([]);
  });

  it('answers 503 when the commit fails: the handler’s writes are gone with it', async () => {
    const t = guard(
      (tx) => {
        tx.writes.push('lost');
        return new Response('ok', { status: 201 });
      },
      { failCommit: true },
    );
    expect((await t.guarded(post('k'))).status).toBe(503);
    expect(t.committed).toEqual([]);
  });

  it('answers 409 while the key is held, and 422 for another body', async () => {
    let release!: () => void;
    const t = guard(async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return new Response('ok', { status: 201 });
    });
    const first = t.guarded(post('k'));
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect((await t.guarded(post('k'))).status).toBe(409);
    release();
    await (await first).text();
    expect((await t.guarded(post('k', { amount: 5 }))).status).toBe(422);
    expect(t.runs).toBe(1);
  });
});

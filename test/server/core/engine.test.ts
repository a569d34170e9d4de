import { describe, expect, it } from 'vitest';
import { CLAIM_OUTCOMES } from '../../../src/server/core/claim.ts';
import { createEngine, type Decision } from '../../../src/server/core/engine.ts';
import type { IdempotencyEvent } from '../../../src/server/core/events.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';

/** A Node-style request, as an Express or node:http adapter sees one. */
interface NodeRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function engine(events: IdempotencyEvent[] = []) {
  return createEngine<NodeRequest>({
    store: memoryStore(),
    scope: (req) => String(req.headers['x-api-key']),
    onEvent: (event) => events.push(event),
  });
}

function begin(
  e: ReturnType<typeof engine>,
  req: NodeRequest,
  reads: { count: number } = { count: 0 },
): Promise<Decision> {
  // begin may answer synchronously or throw; the tests read one promise.
  return (async () =>
    e.begin({
      method: req.method,
      path: req.url,
      header: (name) => req.headers[name],
      body: () => {
        reads.count++;
        return req.body;
      },
      request: req,
    }))();
}

const request = (
  key: string | string[] | undefined,
  body = '{"a":1}',
  method = 'POST',
): NodeRequest => ({
  method,
  url: '/orders?x=1',
  headers: { 'idempotency-key': key, 'content-type': 'application/json', 'x-api-key': 'ak_1' },
  body,
});

describe('createEngine: the adapters’ contract', () => {
  it('claims, completes from Node-style headers and chunks, then replays plain data', async () => {
    const e = engine();
    const decision = await begin(e, request('k'));
    if (decision.kind !== 'proceed') throw new Error(`expected proceed, got ${decision.kind}`);
    expect(decision.claim).toMatchObject({ key: 'k', scope: 'ak_1' });
    expect(decision.claim.willStore(201)).toBe(true);
    expect(decision.claim.willStore(429)).toBe(false);
    const outcome = await decision.claim.complete({
      status: 201,
      headers: { 'Content-Type': 'application/json', 'X-Multi': ['1', '2'], 'Content-Length': 11 },
      body: ['{"ok":', new TextEncoder().encode('true}')],
    });
    expect(outcome).toBe(CLAIM_OUTCOMES.stored);
    expect(await decision.claim.complete({ status: 201, headers: [], body: '' })).toBe(
      CLAIM_OUTCOMES.settled,
    );
    const replay = await begin(e, request('k'));
    expect(replay).toEqual({
      kind: 'respond',
      replayed: true,
      response: {
        status: 201,
        headers: [
          ['content-type', 'application/json'],
          ['x-multi', '1'],
          ['x-multi', '2'],
          ['content-length', '11'],
          ['idempotent-replayed', 'true'],
        ],
        body: new TextEncoder().encode('{"ok":true}'),
      },
    });
  });

  it('does not read the body of a request it bypasses', async () => {
    const e = engine();
    const reads = { count: 0 };
    expect(await begin(e, request('k', '{}', 'GET'), reads)).toEqual({ kind: 'bypass' });
    expect(await begin(e, request(undefined, '{}', 'DELETE'), reads)).toEqual({ kind: 'bypass' });
    expect(reads.count).toBe(0);
    const missing = await begin(e, request(undefined), reads);
    expect(missing).toMatchObject({ kind: 'respond', replayed: false, response: { status: 400 } });
    expect(reads.count).toBe(0);
  });

  it('refuses a key header sent twice (Node hands an array)', async () => {
    const decision = await begin(engine(), request(['a', 'b']));
    expect(decision).toMatchObject({ kind: 'respond', response: { status: 400 } });
    const single = await begin(engine(), request(['a']));
    expect(single.kind).toBe('proceed');
    // No line of the header at all, as a lookup returning an empty list says: missing, not two.
    const none = await begin(engine(), request([]));
    expect(none).toMatchObject({ kind: 'respond', response: { status: 400 } });
    const problem = JSON.parse(
      new TextDecoder().decode((none as { response: { body: Uint8Array } }).response.body),
    );
    expect(problem.type).toMatch(/idempotency-key-missing$/);
  });

  it('fingerprints a body parsed by the framework like its raw text', async () => {
    const e = engine();
    const first = await begin(e, request('k', '{"b":2,"a":1}'));
    if (first.kind !== 'proceed') throw new Error('expected proceed');
    await first.claim.complete({ status: 200, headers: {}, body: 'ok' });
    const parsed = await e.begin({
      method: 'POST',
      path: '/orders?x=1',
      header: (name) => request('k').headers[name],
      json: { a: 1, b: 2 },
      request: request('k'),
    });
    expect(parsed).toMatchObject({ kind: 'respond', replayed: true });
  });

  it('releases with a reason, and settles once', async () => {
    const events: IdempotencyEvent[] = [];
    const e = engine(events);
    const decision = await begin(e, request('k'));
    if (decision.kind !== 'proceed') throw new Error('expected proceed');
    expect(await decision.claim.release('aborted')).toBe(CLAIM_OUTCOMES.released);
    expect(await decision.claim.release('aborted')).toBe(CLAIM_OUTCOMES.settled);
    expect(events.map((event) => event.type)).toEqual(['claim', 'release']);
    expect((await begin(e, request('k'))).kind).toBe('proceed');
  });

  it('releases instead of storing a body over maxBodyBytes, and reports it', async () => {
    const events: IdempotencyEvent[] = [];
    const e = createEngine<NodeRequest>({
      scope: () => 's',
      maxBodyBytes: 4,
      onEvent: (event) => events.push(event),
    });
    const decision = await begin(e, request('k'));
    if (decision.kind !== 'proceed') throw new Error('expected proceed');
    expect(decision.claim.maxBodyBytes).toBe(4);
    expect(await decision.claim.complete({ status: 200, headers: {}, body: '12345' })).toBe(
      CLAIM_OUTCOMES.released,
    );
    expect(events.map((event) => event.type)).toEqual(['claim', 'not-stored', 'release']);
  });

  it('releases instead of storing a status no replay can carry (a web network error is 0)', async () => {
    const events: IdempotencyEvent[] = [];
    const e = engine(events);
    const decision = await begin(e, request('k'));
    if (decision.kind !== 'proceed') throw new Error('expected proceed');
    expect(decision.claim.willStore(0)).toBe(false);
    expect(await decision.claim.complete({ status: 0, headers: {}, body: '' })).toBe(
      CLAIM_OUTCOMES.released,
    );
    expect(events.at(-1)).toMatchObject({ type: 'release', reason: 'aborted', status: 0 });
    expect((await begin(e, request('k'))).kind).toBe('proceed');
  });

  it('throws what the scope function throws, before touching the store', async () => {
    const e = createEngine<NodeRequest>({
      scope: () => {
        throw new Error('no api key');
      },
    });
    await expect(begin(e, request('k'))).rejects.toThrow('no api key');
  });
});

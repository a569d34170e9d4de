import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordId } from '../../../src/server/core/record-id.ts';
import type {
  CompletedRecord,
  InFlightRecord,
  Store,
  StoredResponse,
  StoreRecord,
} from '../../../src/server/stores/store.ts';

/** Builds the store under test; called once per suite, closed after it. */
export type StoreFactory = () => Store | Promise<Store>;

const HOUR = 3_600_000;

/** A fresh in-flight record owned by a new random token, live for an hour. */
export function inFlight(overrides: Partial<InFlightRecord> = {}): InFlightRecord {
  const now = Date.now();
  return {
    state: 'in-flight',
    fingerprint: `fp-${randomUUID()}`,
    owner: randomUUID(),
    leaseUntil: now + 60_000,
    expiresAt: now + HOUR,
    ...overrides,
  };
}

/** A completed record with a small JSON response, live for an hour. */
export function completed(overrides: Partial<CompletedRecord> = {}): CompletedRecord {
  const now = Date.now();
  return {
    state: 'completed',
    fingerprint: `fp-${randomUUID()}`,
    response: {
      status: 201,
      headers: [['content-type', 'application/json']],
      body: new TextEncoder().encode('{"id":"ch_1"}'),
    },
    completedAt: now,
    expiresAt: now + HOUR,
    ...overrides,
  };
}

/**
 * What a store call failed with, whether the store throws (a synchronous store) or rejects: a
 * {@link Store} may do either. Undefined when the call succeeded.
 */
export async function failureOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Plain bytes of a stored body, so a Buffer and a Uint8Array with the same bytes compare equal. */
function bytes(body: Uint8Array): number[] {
  return Array.from(body);
}

/**
 * The contract every {@link Store} passes: the semantics of each primitive, atomicity under
 * concurrency, byte-exact responses and id distinctness. Ids are random per test, so a store
 * backed by a shared Redis or PostgreSQL needs no cleanup between tests or runs.
 *
 * @example
 * ```ts
 * testStore('memory', () => memoryStore());
 * ```
 */
export function testStore(name: string, factory: StoreFactory): void {
  describe(`${name} store contract`, () => {
    let store: Store;
    // One namespace per run, so ids never collide with a previous run on a persistent backend.
    const run = randomUUID();
    const newId = (label = 'key') => `${run}:${label}:${randomUUID()}`;

    beforeAll(async () => {
      store = await factory();
    });

    afterAll(async () => {
      await store?.close?.();
    });

    describe('claim and get', () => {
      it('finds nothing under an id never claimed', async () => {
        expect(await store.get(newId())).toBeUndefined();
      });

      it('creates the record once and returns the live one afterwards', async () => {
        const id = newId();
        const first = inFlight();
        expect(await store.claim(id, first)).toBeUndefined();
        expect(await store.get(id)).toEqual(first);

        const second = inFlight();
        expect(await store.claim(id, second)).toEqual(first);
        expect(await store.get(id)).toEqual(first);
      });

      it('returns the completed record to a later claim', async () => {
        const id = newId();
        const first = inFlight();
        await store.claim(id, first);
        const done = completed({ fingerprint: first.fingerprint });
        expect(await store.complete(id, first.owner, done)).toBe(true);
        const existing = await store.claim(id, inFlight());
        expect(existing?.state).toBe('completed');
        expect(existing).toMatchObject({
          fingerprint: done.fingerprint,
          completedAt: done.completedAt,
        });
      });

      it('lets exactly one of 200 concurrent claims for one id win', async () => {
        const id = newId();
        const contenders = Array.from({ length: 200 }, () => inFlight());
        const results = await Promise.all(contenders.map((record) => store.claim(id, record)));
        const winners = results
          .map((result, index) => (result === undefined ? index : -1))
          .filter((index) => index >= 0);
        expect(winners).toHaveLength(1);
        const winner = contenders[winners[0] as number] as InFlightRecord;
        for (const result of results) if (result !== undefined) expect(result).toEqual(winner);
        expect(await store.get(id)).toEqual(winner);
      });
    });

    describe('snapshots', () => {
      it('hands out records that do not change when the store does, and the reverse', async () => {
        const id = newId();
        const first = inFlight();
        const original = { ...first };
        await store.claim(id, first);
        const read = await store.get(id);
        const returned = await store.claim(id, inFlight());
        const later = first.leaseUntil + 5_000;
        expect(await store.renew(id, first.owner, later)).toBe(true);
        expect(read).toEqual(original);
        expect(returned).toEqual(original);

        first.leaseUntil = 0;
        if (read?.state === 'in-flight') read.owner = 'someone else';
        expect(await store.get(id)).toEqual({ ...original, leaseUntil: later });
      });
    });

    describe('expiry', () => {
      it('treats a record past expiresAt as absent', async () => {
        const id = newId();
        const stale = inFlight({ expiresAt: Date.now() - 1 });
        expect(await store.claim(id, stale)).toBeUndefined();
        expect(await store.get(id)).toBeUndefined();
        const fresh = inFlight();
        expect(await store.claim(id, fresh)).toBeUndefined();
        expect(await store.get(id)).toEqual(fresh);
      });

      it('lets a record lapse with time, in-flight or completed, and be claimed again', async () => {
        const soon = () => Date.now() + 150;
        const running = newId('running');
        const finished = newId('finished');
        const a = inFlight({ expiresAt: soon() });
        const b = inFlight();
        await store.claim(running, a);
        await store.claim(finished, b);
        expect(await store.complete(finished, b.owner, completed({ expiresAt: soon() }))).toBe(
          true,
        );
        expect(await store.get(running)).toEqual(a);
        expect((await store.get(finished))?.state).toBe('completed');

        await sleep(250);
        expect(await store.get(running)).toBeUndefined();
        expect(await store.get(finished)).toBeUndefined();
        // The owner of a lapsed record holds nothing any more.
        expect(await store.renew(running, a.owner, soon())).toBe(false);
        expect(await store.complete(running, a.owner, completed())).toBe(false);
        expect(await store.release(running, a.owner)).toBe(false);
        const next = inFlight();
        expect(await store.claim(running, next)).toBeUndefined();
        expect(await store.claim(finished, inFlight())).toBeUndefined();
        expect(await store.get(running)).toEqual(next);
      });
    });

    describe('fractional epoch ms', () => {
      // A leaseMs of 10_000 / 3 gives fractional times: a store keeps them, or rounds each so the
      // record lapses no earlier than it was told (within a millisecond).
      const within = (stored: number | undefined, given: number) => {
        expect(stored).toBeGreaterThanOrEqual(given);
        expect(stored).toBeLessThan(given + 1);
      };

      it('takes them in every primitive, and never shortens them', async () => {
        const id = newId();
        const first = inFlight({
          leaseUntil: Date.now() - 1_000 + 1 / 3,
          expiresAt: Date.now() + HOUR + 0.5,
        });
        expect(await store.claim(id, first)).toBeUndefined();
        const read = await store.get(id);
        if (read?.state !== 'in-flight')
          throw new Error(`expected an in-flight record under ${id}`);
        within(read.leaseUntil, first.leaseUntil);
        within(read.expiresAt, first.expiresAt);

        const next = inFlight({ leaseUntil: Date.now() + 60_000 + 2 / 3 });
        const expected = { owner: read.owner, leaseUntil: read.leaseUntil };
        expect(await store.takeOver(id, expected, next)).toBe(true);
        const later = Date.now() + 2 * HOUR + 0.25;
        expect(await store.renew(id, next.owner, later)).toBe(true);
        const renewed = await store.get(id);
        within(renewed?.state === 'in-flight' ? renewed.leaseUntil : undefined, later);
        within(renewed?.expiresAt, later);

        const done = completed({
          completedAt: Date.now() + 0.5,
          expiresAt: Date.now() + HOUR + 0.75,
        });
        expect(await store.complete(id, next.owner, done)).toBe(true);
        const stored = await store.get(id);
        within(stored?.expiresAt, done.expiresAt);
        expect(await store.release(id, next.owner)).toBe(false);
      });
    });

    describe('takeOver', () => {
      it('replaces the record only when owner and leaseUntil both match', async () => {
        const id = newId();
        const first = inFlight({ leaseUntil: Date.now() - 1_000 });
        await store.claim(id, first);
        const next = inFlight();
        const expected = { owner: first.owner, leaseUntil: first.leaseUntil };

        expect(await store.takeOver(id, { ...expected, owner: randomUUID() }, next)).toBe(false);
        expect(
          await store.takeOver(id, { ...expected, leaseUntil: expected.leaseUntil + 1 }, next),
        ).toBe(false);
        expect(await store.get(id)).toEqual(first);

        expect(await store.takeOver(id, expected, next)).toBe(true);
        expect(await store.get(id)).toEqual(next);
        // The CAS is spent: the same expectation no longer holds.
        expect(await store.takeOver(id, expected, inFlight())).toBe(false);
        expect(await store.get(id)).toEqual(next);
      });

      it('refuses an absent id and a completed record', async () => {
        expect(await store.takeOver(newId(), { owner: 'x', leaseUntil: 1 }, inFlight())).toBe(
          false,
        );
        const id = newId();
        const first = inFlight();
        await store.claim(id, first);
        await store.complete(id, first.owner, completed());
        const expected = { owner: first.owner, leaseUntil: first.leaseUntil };
        expect(await store.takeOver(id, expected, inFlight())).toBe(false);
        expect((await store.get(id))?.state).toBe('completed');
      });

      it('lets exactly one of many concurrent takeOvers win', async () => {
        const id = newId();
        const first = inFlight({ leaseUntil: Date.now() - 1 });
        await store.claim(id, first);
        const expected = { owner: first.owner, leaseUntil: first.leaseUntil };
        const contenders = Array.from({ length: 50 }, () => inFlight());
        const results = await Promise.all(
          contenders.map((record) => store.takeOver(id, expected, record)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.get(id)).toEqual(contenders[results.indexOf(true)]);
      });
    });

    describe('renew', () => {
      it('extends the lease for the owner only', async () => {
        const id = newId();
        const first = inFlight();
        await store.claim(id, first);
        const later = first.leaseUntil + 30_000;
        expect(await store.renew(id, randomUUID(), later)).toBe(false);
        expect(await store.get(id)).toEqual(first);
        expect(await store.renew(id, first.owner, later)).toBe(true);
        expect(await store.get(id)).toEqual({ ...first, leaseUntil: later });
      });

      it('moves expiresAt to a lease that outruns it, so a held record outlives its TTL', async () => {
        const id = newId();
        const first = inFlight({ leaseUntil: Date.now() + 100, expiresAt: Date.now() + 150 });
        expect(await store.claim(id, first)).toBeUndefined();
        const later = Date.now() + 60_000;
        expect(await store.renew(id, first.owner, later)).toBe(true);
        const renewed = { ...first, leaseUntil: later, expiresAt: later };
        expect(await store.get(id)).toEqual(renewed);

        // Past the original expiresAt (Redis would have deleted the key at its old PEXPIREAT):
        // the record is still there, and a duplicate's claim finds it in flight.
        await sleep(250);
        expect(await store.get(id)).toEqual(renewed);
        expect(await store.claim(id, inFlight())).toEqual(renewed);
        expect(await store.renew(id, first.owner, later + 1_000)).toBe(true);
        const done = completed({ fingerprint: first.fingerprint });
        expect(await store.complete(id, first.owner, done)).toBe(true);
        expect(await store.get(id)).toMatchObject({
          state: 'completed',
          expiresAt: done.expiresAt,
        });
      });

      it('refuses an absent id, a completed record and an owner that lost the record', async () => {
        expect(await store.renew(newId(), 'nobody', Date.now())).toBe(false);
        const id = newId();
        const first = inFlight();
        await store.claim(id, first);
        const taker = inFlight();
        await store.takeOver(id, { owner: first.owner, leaseUntil: first.leaseUntil }, taker);
        expect(await store.renew(id, first.owner, Date.now() + HOUR)).toBe(false);
        expect(await store.get(id)).toEqual(taker);
        await store.complete(id, taker.owner, completed());
        expect(await store.renew(id, taker.owner, Date.now() + HOUR)).toBe(false);
        expect((await store.get(id))?.state).toBe('completed');
      });
    });

    describe('complete', () => {
      it('stores the outcome for the owner only', async () => {
        const id = newId();
        const first = inFlight();
        await store.claim(id, first);
        const done = completed({ fingerprint: first.fingerprint });
        expect(await store.complete(id, randomUUID(), done)).toBe(false);
        expect(await store.get(id)).toEqual(first);
        expect(await store.complete(id, first.owner, done)).toBe(true);
        const stored = await store.get(id);
        expect(stored).toEqual({ ...done, response: expect.any(Object) });
        expect(stored?.state === 'completed' && bytes(stored.response.body)).toEqual(
          bytes(done.response.body),
        );
        // A second completion (a duplicate finishing late) changes nothing.
        expect(await store.complete(id, first.owner, completed())).toBe(false);
        expect((await store.get(id)) as CompletedRecord).toMatchObject({
          completedAt: done.completedAt,
        });
      });

      it('returns false and changes nothing when the owner lost the record', async () => {
        const id = newId();
        const slow = inFlight({ leaseUntil: Date.now() - 1 });
        await store.claim(id, slow);
        const taker = inFlight();
        const expected = { owner: slow.owner, leaseUntil: slow.leaseUntil };
        expect(await store.takeOver(id, expected, taker)).toBe(true);
        expect(await store.complete(id, slow.owner, completed())).toBe(false);
        expect(await store.get(id)).toEqual(taker);
        expect(await store.release(id, slow.owner)).toBe(false);
        expect(await store.get(id)).toEqual(taker);
      });

      it('refuses an absent id', async () => {
        expect(await store.complete(newId(), 'nobody', completed())).toBe(false);
      });
    });

    describe('release', () => {
      it('deletes the in-flight record for the owner only, so the key can run again', async () => {
        const id = newId();
        const first = inFlight();
        await store.claim(id, first);
        expect(await store.release(id, randomUUID())).toBe(false);
        expect(await store.get(id)).toEqual(first);
        expect(await store.release(id, first.owner)).toBe(true);
        expect(await store.get(id)).toBeUndefined();
        expect(await store.release(id, first.owner)).toBe(false);
        const retry = inFlight();
        expect(await store.claim(id, retry)).toBeUndefined();
        expect(await store.get(id)).toEqual(retry);
      });

      it('never deletes a completed record', async () => {
        const id = newId();
        const first = inFlight();
        await store.claim(id, first);
        await store.complete(id, first.owner, completed());
        expect(await store.release(id, first.owner)).toBe(false);
        expect((await store.get(id))?.state).toBe('completed');
      });
    });

    describe('stored responses', () => {
      const roundTrip = async (response: StoredResponse): Promise<StoredResponse> => {
        const id = newId('bytes');
        const first = inFlight();
        await store.claim(id, first);
        expect(await store.complete(id, first.owner, completed({ response }))).toBe(true);
        const stored = await store.get(id);
        if (stored?.state !== 'completed')
          throw new Error(`expected a completed record under ${id}`);
        expect(stored.response.body).toBeInstanceOf(Uint8Array);
        return stored.response;
      };

      it('keeps every byte value, in order', async () => {
        const body = new Uint8Array(512).map((_, i) => (i * 7 + 3) % 256);
        const stored = await roundTrip({ status: 200, headers: [], body });
        expect(bytes(stored.body)).toEqual(bytes(body));
        expect(new Set(bytes(stored.body)).size).toBe(256);
      });

      it('keeps an empty body and a bodiless status', async () => {
        const stored = await roundTrip({ status: 204, headers: [], body: new Uint8Array(0) });
        expect(stored.status).toBe(204);
        expect(stored.body.byteLength).toBe(0);
      });

      it('keeps a 1 MiB random body byte for byte', async () => {
        const body = new Uint8Array(randomBytes(1024 * 1024));
        const stored = await roundTrip({ status: 200, headers: [], body });
        expect(stored.body.byteLength).toBe(body.byteLength);
        expect(Buffer.compare(Buffer.from(stored.body), Buffer.from(body))).toBe(0);
      });

      it('keeps headers in order, repeated names included', async () => {
        const headers: [string, string][] = [
          ['content-type', 'application/json; charset=utf-8'],
          ['link', '</a>; rel="next"'],
          ['x-repeat', 'one'],
          ['vary', 'accept'],
          ['x-repeat', 'two, with a comma'],
          ['x-repeat', ''],
          ['x-latin1', 'caf\u00e9 "quoted" \\ back'],
        ];
        const stored = await roundTrip({ status: 422, headers, body: new Uint8Array([1]) });
        expect(stored.status).toBe(422);
        expect(stored.headers).toEqual(headers);
      });
    });

    describe('ids', () => {
      it('keeps ids with any characters distinct', async () => {
        const base = newId('ids');
        const suffixes = [
          '',
          ':',
          '::',
          ' ',
          'a',
          'A',
          'a:b',
          'a:b:',
          '%',
          '_',
          '*',
          '?',
          '[x]',
          "'; DROP TABLE oncely --",
          '"',
          '\\',
          '\n',
          '\u0001',
          'é',
          'e\u0301',
          '🙂',
          '中文',
          'x'.repeat(255),
          'x'.repeat(256),
          'x'.repeat(1000),
        ];
        const ids = suffixes.map((suffix) => base + suffix);
        const records = ids.map(() => inFlight());
        const results = await Promise.all(
          ids.map((id, i) => store.claim(id, records[i] as InFlightRecord)),
        );
        expect(results.every((result) => result === undefined)).toBe(true);
        for (const [i, id] of ids.entries()) expect(await store.get(id)).toEqual(records[i]);
      });
    });

    describe('ids the engine makes', () => {
      it('holds the id of any scope, with a NUL or a lone surrogate in it', async () => {
        const base = newId('scopes');
        const scopes = [`${base}\u0000`, `${base}a\u0000b`, `${base}\ud800`, base];
        const ids = scopes.map((scope) => recordId(scope, 'k'));
        const records = ids.map(() => inFlight());
        for (const [i, id] of ids.entries()) {
          expect(await store.claim(id, records[i] as InFlightRecord)).toBeUndefined();
        }
        for (const [i, id] of ids.entries()) expect(await store.get(id)).toEqual(records[i]);
      });
    });

    describe('against a reference model', () => {
      it('agrees with it on random sequences of operations', async () => {
        const time = Date.now();
        const owner = fc.constantFrom('o1', 'o2', 'o3');
        // Some leases outrun the record's expiresAt: a renewal must then move expiresAt along.
        const lease = fc.constantFrom(time - 1_000, time + 1_000, time + 2_000, time + 2 * HOUR);
        // Mostly live records; some already expired, which every method must treat as absent.
        const expires = fc.constantFrom(time + HOUR, time + HOUR, time + HOUR, time - 1);
        const id = fc.constantFrom('a', 'b', 'c');
        const fresh = fc
          .record({ owner, leaseUntil: lease, expiresAt: expires })
          .map((r) => inFlight({ ...r, fingerprint: 'fp' }));
        const done = fc
          .record({ body: fc.uint8Array({ maxLength: 8 }), expiresAt: expires })
          .map(({ body, expiresAt }) =>
            completed({
              fingerprint: 'fp',
              completedAt: time,
              expiresAt,
              response: { status: 200, headers: [['x', 'y']], body },
            }),
          );
        const operation = fc.oneof(
          fc.record({ op: fc.constant('claim' as const), id, record: fresh }),
          fc.record({
            op: fc.constant('takeOver' as const),
            id,
            expected: fc.record({ owner, leaseUntil: lease }),
            record: fresh,
          }),
          fc.record({ op: fc.constant('renew' as const), id, owner, leaseUntil: lease }),
          fc.record({ op: fc.constant('complete' as const), id, owner, record: done }),
          fc.record({ op: fc.constant('release' as const), id, owner }),
          fc.record({ op: fc.constant('get' as const), id }),
        );

        await fc.assert(
          fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (ops) => {
            const space = newId('model');
            const model = new Map<string, StoreRecord>();
            const live = (key: string) => {
              const record = model.get(key);
              return record !== undefined && record.expiresAt > Date.now() ? record : undefined;
            };
            const held = (key: string, by: string) => {
              const record = live(key);
              return record?.state === 'in-flight' && record.owner === by ? record : undefined;
            };
            const plain = (record: StoreRecord | undefined) =>
              record?.state === 'completed'
                ? { ...record, response: { ...record.response, body: bytes(record.response.body) } }
                : record;
            for (const step of ops) {
              const key = space + step.id;
              switch (step.op) {
                case 'claim': {
                  const expected = live(key);
                  if (expected === undefined) model.set(key, step.record);
                  expect(plain(await store.claim(key, step.record))).toEqual(plain(expected));
                  break;
                }
                case 'takeOver': {
                  const current = held(key, step.expected.owner);
                  const ok = current?.leaseUntil === step.expected.leaseUntil;
                  if (ok) model.set(key, step.record);
                  expect(await store.takeOver(key, step.expected, step.record)).toBe(ok);
                  break;
                }
                case 'renew': {
                  const current = held(key, step.owner);
                  if (current) {
                    const expiresAt = Math.max(current.expiresAt, step.leaseUntil);
                    model.set(key, { ...current, leaseUntil: step.leaseUntil, expiresAt });
                  }
                  expect(await store.renew(key, step.owner, step.leaseUntil)).toBe(!!current);
                  break;
                }
                case 'complete': {
                  const current = held(key, step.owner);
                  if (current) model.set(key, step.record);
                  expect(await store.complete(key, step.owner, step.record)).toBe(!!current);
                  break;
                }
                case 'release': {
                  const current = held(key, step.owner);
                  if (current) model.delete(key);
                  expect(await store.release(key, step.owner)).toBe(!!current);
                  break;
                }
                case 'get':
                  expect(plain(await store.get(key))).toEqual(plain(live(key)));
                  break;
              }
            }
          }),
          { numRuns: 40 },
        );
      });
    });

    describe('close', () => {
      it('resolves, and closing twice is harmless', async () => {
        const own = await factory();
        const id = newId();
        await own.claim(id, inFlight());
        await own.close?.();
        await own.close?.();
      });
    });
  });
}

import { MAX_TIMER_MS } from '../../timer-limit.ts';
import { InvalidOptionsError } from '../core/invalid-options-error.ts';
import { nonNegative } from '../core/option-checks.ts';
import type { CompletedRecord, InFlightRecord, Store, StoreRecord } from './store.ts';
import { StoreError } from './store-error.ts';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most records kept at once. When full, expired records are dropped, then the oldest completed
   * ones, down to 1 % below the bound; a new claim never evicts an in-flight one (it would let a
   * duplicate run).
   * @default 10_000
   */
  maxRecords?: number;
  /**
   * Most bytes of stored response bodies kept at once: `maxRecords` alone allows 10,000 answers
   * of up to `maxBodyBytes` (1 MiB) each. When a new answer would pass it, the oldest completed
   * records are dropped first, as when full; an answer larger than the whole bound is refused
   * with a `StoreError` (the key is then left to its lease, and a retry runs again).
   * @default 134_217_728 (128 MiB)
   */
  maxBytes?: number;
  /**
   * How often expired records are swept, in ms; the timer does not keep the process alive. `0`
   * or `Infinity` sweeps never (expired records still count as absent, and go when room is made).
   * @default 60_000
   */
  sweepIntervalMs?: number;
  /**
   * Told when the store, full, drops completed records that had not expired: a retry of one of
   * those keys runs its handler again. `evicted` counts them; `keptMs` is how long the newest of
   * them had been kept, so how far back the store still remembers answers (raise `maxRecords`,
   * or use a durable store, when that is shorter than your clients retry).
   * @default a warning through `console.warn`, once per store
   */
  onEvict?: (eviction: { evicted: number; keptMs: number }) => void;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/**
 * The embedded default store: records in a `Map` of this process, bounded and expiring. Right for
 * one server process; a fleet needs a shared store (Redis, PostgreSQL). Its methods answer
 * synchronously (see {@link Store}), so a guarded request costs no promise turn in the store.
 *
 * @example
 * ```ts
 * const guarded = idempotency({ store: memoryStore({ maxRecords: 50_000 }) })(handler);
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const maxRecords = options.maxRecords ?? 10_000;
  // A bound of 0 or NaN would refuse every claim: each guarded request a 503.
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    throw new InvalidOptionsError('maxRecords', `expected an integer ≥ 1, got ${maxRecords}`);
  }
  const maxBytes = nonNegative('maxBytes', options.maxBytes ?? 128 * 1024 * 1024);
  const sweepMs = options.sweepIntervalMs ?? 60_000;
  if (!(sweepMs >= 0)) {
    throw new InvalidOptionsError('sweepIntervalMs', `expected a number ≥ 0, got ${sweepMs}`);
  }
  const now = options.now ?? Date.now;
  // Insertion order doubles as age order, which eviction relies on.
  const records = new Map<string, StoreRecord>();
  // No record expires before this: lowered by each write, made exact by each sweep. While it is
  // ahead of the clock, making room needs no scan for expired records.
  let soonest = Number.POSITIVE_INFINITY;
  // Bytes of the completed records' bodies in `records`: kept in step by put and drop.
  let bytes = 0;
  const sizeOf = (record: StoreRecord): number =>
    record.state === 'completed' ? record.response.body.byteLength : 0;
  const put = (id: string, record: StoreRecord): void => {
    records.set(id, record);
    bytes += sizeOf(record);
    if (record.expiresAt < soonest) soonest = record.expiresAt;
  };
  const drop = (id: string, record: StoreRecord): void => {
    records.delete(id);
    bytes -= sizeOf(record);
  };

  const live = (id: string): StoreRecord | undefined => {
    const record = records.get(id);
    if (record === undefined) return undefined;
    if (record.expiresAt > now()) return record;
    drop(id, record);
    return undefined;
  };

  const held = (id: string, owner: string): InFlightRecord | undefined => {
    const record = live(id);
    return record?.state === 'in-flight' && record.owner === owner ? record : undefined;
  };

  const sweep = (): void => {
    const time = now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, record] of records) {
      if (record.expiresAt <= time) drop(id, record);
      else if (record.expiresAt < next) next = record.expiresAt;
    }
    soonest = next;
  };

  // When full, evict oldest first down to a margin below the bound, not one record per claim:
  // Map iteration starts at the first entry and steps over every deleted one still held in the
  // table, so a scan per claim cost about 8 µs per request at 10,000 records (issue 4's figures);
  // one scan per `margin` claims costs a fraction of that.
  const margin = Math.max(1, Math.floor(maxRecords / 100));
  let warned = false;
  const onEvict =
    options.onEvict ??
    (({ evicted, keptMs }: { evicted: number; keptMs: number }) => {
      if (warned) return;
      warned = true;
      console.warn(
        `oncely: memoryStore is full (maxRecords ${maxRecords}, maxBytes ${maxBytes}) and dropped ${evicted} stored ` +
          `responses before they expired; it now remembers answers for ${Math.round(keptMs / 1000)} s, ` +
          'and a retry after that runs its handler again. Raise its bounds, or use a durable store.',
      );
    });
  /**
   * Room for `adding` more records and `size` more body bytes. Once it must evict, it goes below
   * the bounds by a margin (1 %), not to the bound: one scan serves many calls.
   */
  const byteMargin = Math.floor(maxBytes / 100);
  const makeRoom = (adding: 0 | 1, size: number): boolean => {
    const fits = () => records.size + adding <= maxRecords && bytes + size <= maxBytes;
    if (fits()) return true;
    const roomy = () =>
      (adding === 0 || records.size <= maxRecords - margin) &&
      bytes + size <= maxBytes - byteMargin;
    // Every expired record before any live one: age in the Map is not age of expiry (routes with
    // their own ttlMs may share a store), and an evicted live record lets a retry run again.
    if (soonest <= now()) sweep();
    let evicted = 0;
    let completedAt = 0;
    if (!roomy()) {
      for (const [id, record] of records) {
        if (record.state !== 'completed') continue;
        drop(id, record);
        evicted++;
        completedAt = record.completedAt;
        if (roomy()) break;
      }
    }
    if (evicted > 0) {
      try {
        onEvict({ evicted, keptMs: Math.max(0, now() - completedAt) });
      } catch {
        // A hook's failure must not fail the claim that made room.
      }
    }
    return fits();
  };

  // Node runs a timer of 0, Infinity or more than 2^31 - 1 ms every millisecond: a full scan of
  // the records a thousand times a second. So 0 and Infinity set none, and longer ones the longest.
  const timer =
    sweepMs > 0 && sweepMs !== Number.POSITIVE_INFINITY
      ? setInterval(sweep, Math.min(sweepMs, MAX_TIMER_MS))
      : undefined;
  (timer as { unref?: () => void } | undefined)?.unref?.();

  return {
    claim(id: string, record: InFlightRecord) {
      const existing = live(id);
      // Copies out and in: a record the caller holds must not change under it (a later renew
      // would otherwise move the leaseUntil it passes to takeOver as the expected value).
      if (existing !== undefined) return { ...existing };
      if (!makeRoom(1, 0)) {
        throw new StoreError('claim', `memory store is full of in-flight records (${maxRecords})`);
      }
      put(id, { ...record });
      return undefined;
    },
    takeOver(id, expected, record) {
      const current = held(id, expected.owner);
      if (current === undefined || current.leaseUntil !== expected.leaseUntil) return false;
      put(id, { ...record });
      return true;
    },
    renew(id, owner, leaseUntil) {
      const current = held(id, owner);
      if (current === undefined) return false;
      current.leaseUntil = leaseUntil;
      // The record must outlive its lease, or a duplicate would find it absent and run again.
      if (current.expiresAt < leaseUntil) current.expiresAt = leaseUntil;
      return true;
    },
    complete(id, owner, record: CompletedRecord) {
      const current = held(id, owner);
      if (current === undefined) return false;
      const stored = owned(record);
      const size = sizeOf(stored);
      // Refused before anything is evicted for it: dropping every other answer would not do.
      if (size > maxBytes) {
        throw new StoreError(
          'complete',
          `a response of ${size} bytes is larger than the memory store's maxBytes (${maxBytes})`,
        );
      }
      makeRoom(0, size);
      // Re-insert so a completed record ages from its completion, not its claim.
      drop(id, current);
      put(id, stored);
      return true;
    },
    release(id, owner) {
      const current = held(id, owner);
      if (current === undefined) return false;
      drop(id, current);
      return true;
    },
    get(id) {
      const record = live(id);
      return record === undefined ? undefined : { ...record };
    },
    async close() {
      clearInterval(timer);
      records.clear();
      bytes = 0;
    },
  };
}

/**
 * The record with a body of its own: a view on a larger buffer (a chunk of a Node stream is a
 * view on 64 KiB, a small Buffer one on an 8 KiB pool) would keep all of that alive for the
 * record's life, far beyond what `maxRecords` suggests. Copied only then.
 */
function owned(record: CompletedRecord): CompletedRecord {
  const body = record.response.body;
  if (body.byteLength === body.buffer.byteLength) return { ...record };
  // Not body.slice(): on a Buffer that is a view too.
  return { ...record, response: { ...record.response, body: new Uint8Array(body) } };
}

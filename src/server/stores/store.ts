/**
 * The interface every server store implements: a handful of atomic primitives on records keyed by
 * an opaque id. Policy (scoping, fingerprints, leases, TTLs, what may be stored) lives in the core;
 * a store only has to make each primitive atomic. Each store passes `test/server/stores/contract.ts`.
 */

/** States of a record, as values that survive JSON and SQL. */
export const RECORD_STATE = {
  inFlight: 'in-flight',
  completed: 'completed',
} as const;

/** A response as stored and replayed: status, final headers and the raw body bytes. */
export interface StoredResponse {
  status: number;
  /** Header pairs in the order they were sent; names in lower case; repeated names allowed. */
  headers: [string, string][];
  body: Uint8Array;
}

/** A claim in progress: one request owns the key until `leaseUntil`. */
export interface InFlightRecord {
  state: typeof RECORD_STATE.inFlight;
  /** Canonical hash of method, path and body: a retry must match it. */
  fingerprint: string;
  /** Random token of the request that holds the lease; completion and release check it. */
  owner: string;
  /** Epoch ms after which another request may take the key over. */
  leaseUntil: number;
  /** Epoch ms after which the record is gone for every purpose. */
  expiresAt: number;
}

/** The operation's outcome, kept until `expiresAt` to be replayed. */
export interface CompletedRecord {
  state: typeof RECORD_STATE.completed;
  fingerprint: string;
  response: StoredResponse;
  /** Epoch ms of completion. */
  completedAt: number;
  expiresAt: number;
}

export type StoreRecord = InFlightRecord | CompletedRecord;

/** A value, or a promise of it: what a store method may return. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Atomic primitives on records. A record whose `expiresAt` has passed counts as absent for every
 * method, and the store deletes it in its own time (TTL, sweep or on access).
 *
 * A store whose work is synchronous (memory) returns plain values and throws its errors: the core
 * then answers a request without a promise turn per step. A store that goes over the network, or
 * waits for a group commit (SQLite), returns promises. Callers must accept both (`await` does).
 */
export interface Store {
  /**
   * Creates `record` under `id` if no live record exists, in one atomic step.
   * @returns `undefined` when this call created the record (the caller owns the key), otherwise
   * the live record that stands there.
   */
  claim(id: string, record: InFlightRecord): MaybePromise<StoreRecord | undefined>;
  /**
   * Replaces an in-flight record whose lease has lapsed, only if it still has the owner and
   * `leaseUntil` the caller read (compare-and-set), so two retries cannot both take it over.
   * @returns true when `record` now stands under `id`.
   */
  takeOver(
    id: string,
    expected: { owner: string; leaseUntil: number },
    record: InFlightRecord,
  ): MaybePromise<boolean>;
  /**
   * Extends the lease of an in-flight record held by `owner`, and moves its `expiresAt` to
   * `leaseUntil` when that is later: a record must not expire while its lease holds.
   * @returns false if it is not held by `owner`.
   */
  renew(id: string, owner: string, leaseUntil: number): MaybePromise<boolean>;
  /** Replaces the in-flight record held by `owner` with `record`. @returns false if `owner` lost it. */
  complete(id: string, owner: string, record: CompletedRecord): MaybePromise<boolean>;
  /** Deletes the in-flight record held by `owner`, so a retry runs again. @returns false if `owner` lost it. */
  release(id: string, owner: string): MaybePromise<boolean>;
  /** The live record under `id`, if any. */
  get(id: string): MaybePromise<StoreRecord | undefined>;
  /** Frees timers and connections the store opened itself (not those it was given). */
  close?(): Promise<void>;
}

/** What {@link TransactionalStore.transact} ended with. */
export type TransactOutcome =
  /** `work` returned a record: it and the handler's writes committed together. */
  | { outcome: 'completed' }
  /** `work` returned nothing or threw: everything rolled back, the key is free again. */
  | { outcome: 'rolled-back' }
  /** Another request holds or finished the key: nothing ran. */
  | { outcome: 'existing'; record: StoreRecord };

/**
 * Optional capability of a store on a database with transactions (postgresStore): the claim, the
 * handler's own writes through `tx`, and the completed record commit together or not at all.
 * Used by the core instead of claim/complete when the route asks for transactional mode.
 */
export interface TransactionalStore<Tx = unknown> extends Store {
  transact(
    id: string,
    record: InFlightRecord,
    work: (tx: Tx) => Promise<CompletedRecord | undefined>,
  ): Promise<TransactOutcome>;
}

/** True when `store` offers {@link TransactionalStore.transact}. */
export function isTransactionalStore(store: Store): store is TransactionalStore {
  return typeof (store as Partial<TransactionalStore>).transact === 'function';
}

/** A store that is down or answered in a way it must not: the core turns it into a 503. */
export { StoreError } from './store-error.ts';

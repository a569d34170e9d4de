import type { MaybePromise } from '../stores/store.ts';
import { RELEASE_REASONS, type ReleaseReason } from './events.ts';
import { isPromise } from './is-promise.ts';
import { joinBody, type Runtime } from './runtime.ts';
import type { HandlerResponse } from './types.ts';

/** How a claim ended. */
export const CLAIM_OUTCOMES = {
  /** The response is stored and will be replayed. */
  stored: 'stored',
  /** The key is free again; a retry runs the handler again. */
  released: 'released',
  /** Another request took the key over after this one's lease lapsed: nothing was written. */
  lost: 'lost',
  /** The store failed; the record stays in flight until its lease lapses. */
  storeError: 'store-error',
  /** The claim had already been completed or released. */
  settled: 'settled',
} as const;

export type ClaimOutcome = (typeof CLAIM_OUTCOMES)[keyof typeof CLAIM_OUTCOMES];

/**
 * The key held by one request while its handler runs: the adapter runs the handler, then calls
 * {@link Claim.complete} with what was sent, or {@link Claim.release} when the handler threw or the
 * response could not be captured. Exactly one of them counts; later calls return `'settled'`.
 * The lease is renewed in the background until then.
 *
 * Neither method throws: store failures are reported through `onEvent` (`store-error`), since the
 * response has already been produced and must still be sent.
 */
export class Claim {
  /** The request's key. */
  readonly key: string;
  /** The scope the key lives in. */
  readonly scope: string;
  /** The record's id in the store. */
  readonly id: string;
  /** This request's owner token. */
  readonly owner: string;
  /** Epoch ms until which the lease holds; moved forward on each renewal. */
  leaseUntil: number;
  readonly #runtime: Runtime;
  readonly #fingerprint: string;
  #settled = false;
  #lost = false;
  #renewing = false;

  constructor(
    runtime: Runtime,
    id: string,
    key: string,
    scope: string,
    owner: string,
    leaseUntil: number,
    fingerprint: string,
  ) {
    this.#runtime = runtime;
    this.id = id;
    this.key = key;
    this.scope = scope;
    this.owner = owner;
    this.leaseUntil = leaseUntil;
    this.#fingerprint = fingerprint;
    runtime.renewals.add(this);
  }

  /** Largest body that will be stored: past it, stop collecting and call `release('too-large')`. */
  get maxBodyBytes(): number {
    return this.#runtime.settings.maxBodyBytes;
  }

  /** Whether a response with `status` would be stored: if not, adapters need not capture its body. */
  willStore(status: number): boolean {
    return this.#runtime.notStoredReason(status) === undefined;
  }

  /** True once complete or release was called. */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Stores the response the handler sent (status, final headers, body bytes) so retries get it
   * back, or releases the key when the response must not be stored (401, 403, 408, 409, 429, a
   * 5xx without `storeServerErrors`, a body over `maxBodyBytes`). Answers synchronously when the
   * store does (memory, SQLite): `await` it.
   */
  complete(response: HandlerResponse): ClaimOutcome | Promise<ClaimOutcome> {
    if (this.#settled) return CLAIM_OUTCOMES.settled;
    const runtime = this.#runtime;
    const reason = runtime.notStoredReason(response.status);
    if (reason !== undefined) return this.release(reason, response.status);
    const body = joinBody(response.body);
    if (body.byteLength > runtime.settings.maxBodyBytes) {
      return this.release(RELEASE_REASONS.tooLarge, response.status);
    }
    // Built before the claim counts as settled: if building it throws, the key can still be freed.
    const record = runtime.completedRecord(response, body, this.#fingerprint);
    this.#settle();
    const status = response.status;
    return this.#storeCall(
      'complete',
      () => runtime.settings.store.complete(this.id, this.owner, record),
      (done) => this.#completed(done, status),
    );
  }

  /**
   * Frees the key without a stored response, so a retry runs the handler again. Answers
   * synchronously when the store does: `await` it.
   */
  release(reason: ReleaseReason, status?: number): ClaimOutcome | Promise<ClaimOutcome> {
    if (this.#settled) return CLAIM_OUTCOMES.settled;
    this.#settle();
    const runtime = this.#runtime;
    if (reason === RELEASE_REASONS.tooLarge) {
      runtime.emit({
        type: 'not-stored',
        key: this.key,
        scope: this.scope,
        reason: 'too-large',
        maxBodyBytes: runtime.settings.maxBodyBytes,
      });
    }
    return this.#storeCall(
      'release',
      () => runtime.settings.store.release(this.id, this.owner),
      (done) => this.#released(done, reason, status),
    );
  }

  /**
   * One store call, answered synchronously or not: its answer goes to `then`, its failure is
   * reported (`store-error`), never thrown.
   */
  #storeCall(
    operation: 'complete' | 'release',
    call: () => MaybePromise<boolean>,
    then: (done: boolean) => ClaimOutcome,
  ): ClaimOutcome | Promise<ClaimOutcome> {
    let done: MaybePromise<boolean>;
    try {
      done = call();
    } catch (error) {
      return this.#storeError(operation, error);
    }
    if (isPromise(done)) {
      return done.then(then, (error: unknown) => this.#storeError(operation, error));
    }
    return then(done);
  }

  #completed(done: boolean, status: number): ClaimOutcome {
    if (!done) return this.#lose();
    const runtime = this.#runtime;
    if (runtime.observed) {
      runtime.emit({ type: 'complete', key: this.key, scope: this.scope, status });
    }
    return CLAIM_OUTCOMES.stored;
  }

  #released(done: boolean, reason: ReleaseReason, status: number | undefined): ClaimOutcome {
    if (!done) return this.#lose();
    const runtime = this.#runtime;
    if (runtime.observed) {
      const event = { type: 'release' as const, key: this.key, scope: this.scope, reason };
      runtime.emit(status === undefined ? event : { ...event, status });
    }
    return CLAIM_OUTCOMES.released;
  }

  #storeError(operation: 'complete' | 'release', error: unknown): ClaimOutcome {
    this.#runtime.emit({ type: 'store-error', key: this.key, scope: this.scope, operation, error });
    return CLAIM_OUTCOMES.storeError;
  }

  /** Called by the shared renewal timer. @internal */
  renew(): void {
    if (this.#renewing || this.#settled) return;
    this.#renewing = true;
    void this.#renew().finally(() => {
      this.#renewing = false;
    });
  }

  async #renew(): Promise<void> {
    const runtime = this.#runtime;
    const leaseUntil = runtime.settings.now() + runtime.settings.leaseMs;
    try {
      if (await runtime.settings.store.renew(this.id, this.owner, leaseUntil)) {
        this.leaseUntil = leaseUntil;
      } else if (!this.#settled) {
        runtime.renewals.delete(this);
        this.#lose();
      }
    } catch (error) {
      // Keep trying on the next tick: the lease may still hold when the store is back.
      runtime.emit({
        type: 'store-error',
        key: this.key,
        scope: this.scope,
        operation: 'renew',
        error,
      });
    }
  }

  #settle(): void {
    this.#settled = true;
    this.#runtime.renewals.delete(this);
  }

  #lose(): ClaimOutcome {
    if (!this.#lost) {
      this.#lost = true;
      this.#runtime.emit({ type: 'lost', key: this.key, scope: this.scope });
    }
    return CLAIM_OUTCOMES.lost;
  }
}

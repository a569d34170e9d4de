import {
  type CompletedRecord,
  RECORD_STATE,
  type TransactionalStore,
  type TransactOutcome,
} from '../stores/store.ts';
import { RELEASE_REASONS, type ReleaseReason } from './events.ts';
import { joinBody, type Runtime, sleep, waitPolls } from './runtime.ts';
import type { HandlerResponse, PlainResponse } from './types.ts';

/** What {@link Transaction.run} ended with. */
export type TransactResult<R extends HandlerResponse> =
  /** The handler ran; `stored` tells whether its writes and response committed with the key. */
  | { kind: 'ran'; response: R; body: Uint8Array; stored: boolean }
  /** The handler did not run: send this (a replay, a 409, 422 or 503). */
  | { kind: 'respond'; response: PlainResponse };

/**
 * A guarded request in transactional mode: the claim, the handler's own writes through `tx` and
 * the stored response commit together, or roll back together (the store's `transact`).
 */
export class Transaction {
  readonly key: string;
  readonly scope: string;
  readonly id: string;
  readonly #runtime: Runtime;
  readonly #fingerprint: string;

  constructor(runtime: Runtime, id: string, key: string, scope: string, fingerprint: string) {
    this.#runtime = runtime;
    this.id = id;
    this.key = key;
    this.scope = scope;
    this.#fingerprint = fingerprint;
  }

  /**
   * Runs `work` (the handler, with the transaction) inside the store's transaction, once for the
   * key. The body must be complete when `work` resolves: it is stored in the same commit. If `work`
   * throws, everything rolls back, the key is free again and the error is thrown on.
   */
  async run<Tx, R extends HandlerResponse>(
    work: (tx: Tx) => Promise<R>,
  ): Promise<TransactResult<R>> {
    const runtime = this.#runtime;
    const { key, scope } = this;
    const settings = runtime.settings;
    const store = settings.store as TransactionalStore<Tx>;
    let polls = waitPolls(settings);
    for (;;) {
      const record = runtime.inFlightRecord(this.#fingerprint);
      let ran: { response: R; body: Uint8Array } | undefined;
      let thrown: { error: unknown } | undefined;
      let notStored: ReleaseReason | undefined;
      let outcome: TransactOutcome;
      try {
        outcome = await store.transact(
          this.id,
          record,
          async (tx): Promise<CompletedRecord | undefined> => {
            runtime.emit({ type: 'claim', key, scope });
            try {
              const response = await work(tx);
              ran = { response, body: joinBody(response.body) };
            } catch (error) {
              thrown = { error };
              return undefined;
            }
            notStored = runtime.notStoredReason(ran.response.status);
            if (notStored === undefined && ran.body.byteLength > settings.maxBodyBytes) {
              notStored = RELEASE_REASONS.tooLarge;
            }
            if (notStored !== undefined) return undefined;
            return runtime.completedRecord(ran.response, ran.body, this.#fingerprint);
          },
        );
      } catch (error) {
        // The commit (or the store) failed: the handler's writes rolled back with it.
        if (thrown !== undefined) throw thrown.error;
        return {
          kind: 'respond',
          response: await runtime.storeDown(key, scope, 'transact', error),
        };
      }
      if (thrown !== undefined) {
        runtime.emit({ type: 'release', key, scope, reason: RELEASE_REASONS.threw });
        throw thrown.error;
      }
      if (outcome.outcome === 'existing') {
        const existing = outcome.record;
        const verdict = runtime.judge(existing, this.#fingerprint, settings.now());
        if (verdict === 'mismatch')
          return { kind: 'respond', response: await runtime.mismatch(key, scope) };
        if (verdict === 'replay' && existing.state === RECORD_STATE.completed) {
          runtime.emit({ type: 'replay', key, scope, status: existing.response.status });
          return { kind: 'respond', response: runtime.replay(existing.response) };
        }
        if (polls-- > 0 && settings.wait !== undefined) {
          await sleep(settings.wait.pollMs);
          continue;
        }
        const leaseUntil = existing.state === RECORD_STATE.inFlight ? existing.leaseUntil : 0;
        return { kind: 'respond', response: await runtime.conflict(key, scope, leaseUntil) };
      }
      const result = ran as { response: R; body: Uint8Array } | undefined;
      if (result === undefined) {
        // transact neither ran the work nor reported an existing record: a broken store.
        const error = new Error(`transact ended '${outcome.outcome}' without running the handler`);
        return {
          kind: 'respond',
          response: await runtime.storeDown(key, scope, 'transact', error),
        };
      }
      const status = result.response.status;
      if (outcome.outcome === 'completed') {
        runtime.emit({ type: 'complete', key, scope, status });
        return { kind: 'ran', ...result, stored: true };
      }
      const reason = notStored ?? RELEASE_REASONS.aborted;
      if (reason === RELEASE_REASONS.tooLarge) {
        runtime.emit({
          type: 'not-stored',
          key,
          scope,
          reason: 'too-large',
          maxBodyBytes: settings.maxBodyBytes,
        });
        runtime.emit({ type: 'release', key, scope, reason, status });
        // The handler's writes rolled back with the key: sending its success would be a lie.
        const detail = `The response (${result.body.byteLength} bytes) exceeds the ${settings.maxBodyBytes}-byte limit for stored responses; nothing was committed.`;
        return {
          kind: 'respond',
          response: await runtime.problem('responseTooLarge', detail, key),
        };
      }
      runtime.emit({ type: 'release', key, scope, reason, status });
      return { kind: 'ran', ...result, stored: false };
    }
  }
}

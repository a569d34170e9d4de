import type { RequestDescription } from '../../journal/serialize.ts';

/** What `request(input)` returns: `{ url, method?, headers?, json?, body? }`. */
export type OperationRequest = RequestDescription;

/** Who an operation is, as its hooks see it. */
export interface OperationInfo {
  /** Journal record id. */
  readonly id: string;
  /** Name of the definition. */
  readonly name: string;
  /** The key every attempt carried. */
  readonly key: string;
  /** Attempts made, across sessions. */
  readonly attempts: number;
  /**
   * True when nobody awaits the outcome: the operation was resumed after a crash or reload, or it
   * settled in the background after its caller got an `OperationPendingError`.
   */
  readonly detached: boolean;
}

/**
 * One kind of operation, defined once with `client.operation(name, definition)`. On resume a
 * journaled operation is run again through the definition registered under its name.
 *
 * @example
 * ```ts
 * const pay = client.operation('pay-order', {
 *   request: (order: { id: string; cents: number }) => ({
 *     url: '/payments', method: 'POST', json: { order: order.id, amount: order.cents },
 *   }),
 *   key: (order) => keyFrom('pay', order.id),   // one payment per order, whatever happens
 *   onSuccess: (response, order) => markPaid(order.id),
 *   onError: (error, order) => markFailed(order.id, error),
 * });
 * const response = await pay.run({ id: 'o-1', cents: 500 });
 * ```
 */
export interface OperationDefinition<Input = unknown> {
  /** Builds the request from the input. Called once per run; the result is what is journaled. */
  request(input: Input): OperationRequest | Promise<OperationRequest>;
  /**
   * The consumer's key for this use case (it may use `keyFrom` and `window`). Checked as any key
   * is, before anything is written or sent.
   * @default a new key per run from the client's `generateKey` (a v4 UUID unless you set one)
   */
  key?(input: Input): string | Promise<string>;
  /**
   * Called with the successful response when the operation settles, in the session or after a
   * resume. When a caller also awaits the response, this gets a clone. After a resume `input` is
   * the journaled copy (a JSON round trip of the original).
   */
  onSuccess?(response: Response, input: Input, info: OperationInfo): void | Promise<void>;
  /**
   * Called when the operation fails for good (a non-retryable status such as 400 or 422), in the
   * session or after a resume. Not called while the operation is still pending.
   */
  onError?(error: Error, input: Input, info: OperationInfo): void | Promise<void>;
  /**
   * `false` sends without a journal: nothing survives a crash, but a `ReadableStream` body or a
   * form with files can be sent. Such a run is not retried in the background either.
   * @default true
   */
  durable?: boolean;
}

/** Options of one run. */
export interface RunOptions {
  /**
   * Cancels the run. An abort ends the operation for good: its record leaves the journal and it is
   * never retried (an attempt already sent may still have taken effect on the server).
   */
  signal?: AbortSignal;
  /** Overrides the definition's `durable` for this run. */
  durable?: boolean;
}

/** A defined operation. */
export interface Operation<Input = unknown> {
  readonly name: string;
  /**
   * Performs one operation: journals it (durable before the first attempt), sends it with one key
   * through the client's retry loop, and removes it from the journal once it settles.
   * @throws {NotPersistableError} a body the journal cannot keep, before anything is sent
   * @throws {JournalError} the journal could not write it, before anything is sent
   * @throws {OperationPendingError} retries ran out on a retryable failure: it goes on in the background
   * @throws {HttpError} the server refused it for good (the operation settled as failed)
   */
  run(input: Input, options?: RunOptions): Promise<Response>;
}

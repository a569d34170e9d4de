import { OncelyError } from '../../../errors/oncely-error.ts';

/**
 * The operation ran out of in-session attempts on a failure worth retrying (no response, a 5xx, a
 * 409 while the server still runs it, a `Retry-After` beyond `maxRetryAfter`), so the caller gets
 * this instead of a result. The operation is not given up: it stays in the journal and is retried
 * in the background at `retryAt` with its same key, and by `resume()` after a crash; its definition's
 * `onSuccess`/`onError` receive the final outcome (issue 3). `cause` is the last failure.
 *
 * @example
 * ```ts
 * try { await pay.run(order) }
 * catch (error) { if (isOncelyError(error, 'OPERATION_PENDING')) toast('Payment queued, will retry') }
 * ```
 */
export class OperationPendingError extends OncelyError {
  /** Journal record id of the operation. */
  declare readonly id: string;
  /** Name of its definition. */
  declare readonly operation: string;
  /** The key every attempt carried and every later attempt will carry. */
  declare readonly key: string;
  /** Attempts made so far, across sessions. */
  declare readonly attempts: number;
  /** Epoch ms of the next background attempt, or undefined when background retries are off. */
  declare readonly retryAt: number | undefined;

  constructor(
    id: string,
    operation: string,
    key: string,
    attempts: number,
    retryAt: number | undefined,
    cause: Error,
  ) {
    const when =
      retryAt === undefined ? 'on the next resume()' : `at ${new Date(retryAt).toISOString()}`;
    super(
      'OPERATION_PENDING',
      `Operation ${operation} (${id}) is pending after ${attempts} attempt(s), retried ${when}: ${cause.message}`,
      { cause },
    );
    this.name = 'OperationPendingError';
    this.id = id;
    this.operation = operation;
    this.key = key;
    this.attempts = attempts;
    this.retryAt = retryAt;
  }
}

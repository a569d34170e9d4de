import { OncelyError } from '../../errors/oncely-error.ts';
import type { AttemptRecord } from '../attempt-record.ts';

/**
 * The server asked to wait (`Retry-After`) longer than `maxRetryAfter`: retrying ends at once
 * instead of hanging. A durable operation reschedules itself for `retryAt` with the same key.
 */
export class RetryAfterTooLongError extends OncelyError {
  /** The wait the server asked for, in milliseconds. */
  declare readonly retryAfter: number;
  /** When the server said to come back, in milliseconds since the epoch. */
  declare readonly retryAt: number;
  declare readonly maxRetryAfter: number;
  declare readonly key: string | undefined;
  declare readonly attempts: readonly AttemptRecord[];
  declare readonly response: Response;

  constructor(
    retryAfter: number,
    maxRetryAfter: number,
    key: string | undefined,
    attempts: readonly AttemptRecord[],
    response: Response,
  ) {
    super(
      'RETRY_AFTER_TOO_LONG',
      `Retry-After of ${retryAfter} ms is beyond maxRetryAfter (${maxRetryAfter} ms)`,
      { cause: attempts.at(-1)?.error },
    );
    this.name = 'RetryAfterTooLongError';
    this.retryAfter = retryAfter;
    this.retryAt = Date.now() + retryAfter;
    this.maxRetryAfter = maxRetryAfter;
    this.key = key;
    this.attempts = attempts;
    this.response = response;
  }
}

import type { FailureReason } from '../retry/policy.ts';

/**
 * One failed attempt as the attempt loop sees it (internal: callers get `error`). It is what the
 * attempt throws to p-retry, so p-retry can own the loop while oncely decides.
 */
export class AttemptFailure extends Error {
  declare readonly attempt: number;
  declare readonly reason: FailureReason;
  /** Whether this kind of failure is worth another attempt (the method is checked apart). */
  declare readonly retryable: boolean;
  /** The error a caller sees for this failure. */
  declare readonly error: Error;
  declare readonly response: Response | undefined;
  /** `Retry-After` of the response, in milliseconds. */
  declare readonly retryAfter: number | undefined;

  constructor(
    attempt: number,
    reason: FailureReason,
    retryable: boolean,
    error: Error,
    response?: Response,
    retryAfter?: number,
  ) {
    super(error.message, { cause: error });
    this.attempt = attempt;
    this.reason = reason;
    this.retryable = retryable;
    this.error = error;
    this.response = response;
    this.retryAfter = retryAfter;
  }
}

import type { FailureReason } from '../retry/policy.ts';

/**
 * One failed attempt as the attempt loop sees it (internal: callers get `error`). The loop throws
 * `error` to p-retry, and keeps the failure itself aside for its decisions.
 */
export interface AttemptFailure {
  readonly attempt: number;
  readonly reason: FailureReason;
  /** Whether this kind of failure is worth another attempt (the method is checked apart). */
  readonly retryable: boolean;
  /** The error a caller sees for this failure. */
  readonly error: Error;
  readonly response: Response | undefined;
  /** `Retry-After` of the response, in milliseconds. */
  readonly retryAfter: number | undefined;
}

/** An {@link AttemptFailure}, its fields in order. */
export function attemptFailure(
  attempt: number,
  reason: FailureReason,
  retryable: boolean,
  error: Error,
  response?: Response,
  retryAfter?: number,
): AttemptFailure {
  return { attempt, reason, retryable, error, response, retryAfter };
}

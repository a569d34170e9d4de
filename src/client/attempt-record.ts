import type { FailureReason } from '../retry/policy.ts';

/** What happened to one failed attempt, kept on errors and events. */
export interface AttemptRecord {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Why it failed. */
  readonly reason: FailureReason;
  /** The response status, for a `status` failure. */
  readonly status?: number;
  /** The error the attempt ended with (an `HttpError` for a status). */
  readonly error: Error;
}

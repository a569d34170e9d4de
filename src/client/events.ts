import type { FailureReason } from '../retry/policy.ts';
import type { AttemptRecord } from './attempt-record.ts';

/** An attempt is about to be sent. */
export interface AttemptEvent {
  readonly key: string | undefined;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly request: Request;
}

/** An attempt failed and another follows after `delay`. */
export interface RetryEvent {
  readonly key: string | undefined;
  /** The attempt that failed. */
  readonly attempt: number;
  /** Milliseconds until the next attempt. */
  readonly delay: number;
  readonly reason: FailureReason;
  readonly status: number | undefined;
  readonly error: Error;
  /** The server's `Retry-After`, in milliseconds, when it set the delay. */
  readonly retryAfter: number | undefined;
}

/** The server answered with a stored response (`Idempotent-Replayed: true`). */
export interface ReplayEvent {
  readonly key: string | undefined;
  readonly attempt: number;
  readonly response: Response;
}

/** The call failed for good: `error` is what the caller receives. */
export interface GiveUpEvent {
  readonly key: string | undefined;
  readonly attempts: readonly AttemptRecord[];
  readonly error: Error;
}

/**
 * Callbacks for every use of a key, for logs and metrics. They run inline: keep them quick, and
 * do not throw (an error thrown by a hook fails the call).
 *
 * @example
 * ```ts
 * createClient({ hooks: { retry: (e) => log.warn({ key: e.key, delay: e.delay, why: e.reason }) } });
 * ```
 */
export interface ClientHooks {
  attempt?: (event: AttemptEvent) => void;
  retry?: (event: RetryEvent) => void;
  replay?: (event: ReplayEvent) => void;
  giveUp?: (event: GiveUpEvent) => void;
}

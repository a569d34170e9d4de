import { OncelyError } from '../../errors/oncely-error.ts';
import type { AttemptRecord } from '../attempt-record.ts';

/** Why retrying stopped while the failure was still retryable. */
export const RETRY_STOPS = {
  /** Every allowed attempt was made. */
  attempts: 'attempts',
  /** The client's retry budget could not pay for another retry. */
  budget: 'budget',
  /** The next attempt could not start before `totalTimeout`. */
  deadline: 'deadline',
} as const;
export type RetryStop = (typeof RETRY_STOPS)[keyof typeof RETRY_STOPS];

/**
 * Retrying stopped while the last failure was still worth retrying. It carries every attempt's
 * error and status; `cause` is the last one, and `response` the last response, unread.
 */
export class RetryLimitError extends OncelyError {
  declare readonly key: string | undefined;
  declare readonly attempts: readonly AttemptRecord[];
  declare readonly stop: RetryStop;
  declare readonly response: Response | undefined;

  constructor(
    key: string | undefined,
    attempts: readonly AttemptRecord[],
    stop: RetryStop,
    response?: Response,
  ) {
    const last = attempts.at(-1);
    super(
      'RETRY_LIMIT',
      `Gave up after ${attempts.length} attempt(s) (${stop}); last: ${last?.status ?? last?.reason}`,
      { cause: last?.error },
    );
    this.name = 'RetryLimitError';
    this.key = key;
    this.attempts = attempts;
    this.stop = stop;
    this.response = response;
  }
}

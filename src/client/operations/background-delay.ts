import { backoffDelay } from '../../retry/backoff.ts';
import type { BackgroundRetryOptions } from './options.ts';

/**
 * The wait before background round `round` (1 for the first), in ms: exponential up to `cap`
 * (5 min by default, issue 3), with "equal jitter", half fixed and half random, so that a round
 * never comes right after the in-session retries that just failed, and clients that failed
 * together do not come back together.
 *
 * @example
 * ```ts
 * backgroundDelay(1, {});  // in [500, 1000)
 * backgroundDelay(20, {}); // in [150_000, 300_000)
 * ```
 */
export function backgroundDelay(
  round: number,
  options: BackgroundRetryOptions,
  random: () => number = Math.random,
): number {
  const ceiling = backoffDelay(round, {
    base: options.base ?? 1_000,
    cap: options.cap ?? 300_000,
    jitter: false,
  });
  return ceiling / 2 + random() * (ceiling / 2);
}

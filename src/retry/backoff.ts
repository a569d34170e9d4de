/**
 * Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * a uniform draw in `[0, min(cap, base × 2^(retry−1)))`. Full jitter spreads a burst of failing
 * clients over the whole window, which is what keeps an outage from becoming a retry storm.
 *
 * @param retry 1 for the first retry, 2 for the second…
 * @example
 * ```ts
 * backoffDelay(1, { base: 300, cap: 10_000 }); // somewhere in [0, 300)
 * backoffDelay(3, { base: 300, cap: 10_000, jitter: false }); // 1200
 * ```
 */
export function backoffDelay(
  retry: number,
  options: { base: number; cap: number; jitter?: boolean; random?: () => number },
): number {
  const ceiling = Math.min(options.cap, options.base * 2 ** Math.max(0, retry - 1));
  if (options.jitter === false) return ceiling;
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

import { MAX_TIMER_MS } from '../timer-limit.ts';

/**
 * Waits `ms` milliseconds, or rejects with the signal's reason as soon as it aborts: a backoff
 * wait must never outlive a cancellation (issue 2).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const end = performance.now() + ms;
    let timer: ReturnType<typeof setTimeout>;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    // A wait past the timer limit (maxRetryAfter: Infinity and a Retry-After of weeks) runs as
    // several timers, so that it does not end at once and retry straight away.
    const wait = (left: number) => {
      timer = setTimeout(
        () => {
          if (left > MAX_TIMER_MS) return wait(end - performance.now());
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.min(left, MAX_TIMER_MS),
      );
    };
    wait(ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

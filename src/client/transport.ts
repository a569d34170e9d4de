import { NetworkError } from './errors/network-error.ts';
import { TimeoutError } from './errors/timeout-error.ts';

/** The fetch function oncely sends with: the platform's, or one injected through the options. */
export type FetchFunction = (input: Request, init?: RequestInit) => Promise<Response>;

/** Limits of one attempt. */
export interface AttemptLimits {
  /** Per-attempt limit in milliseconds, or `false` for none. */
  readonly timeout: number | false;
  /** End of the whole call on `performance.now()`'s clock; `Infinity` for none. */
  readonly deadline: number;
  /** The whole call's limit in milliseconds, reported on its `TimeoutError`. */
  readonly totalTimeout: number | false;
  readonly signal: AbortSignal | undefined;
}

/**
 * Sends one request and returns whatever response arrives, whatever its status. It throws the
 * caller's abort reason as fetch does, a {@link TimeoutError} when a limit ends the attempt, and
 * a {@link NetworkError} for any other rejection: the request itself was built before, so a
 * rejection here means no response arrived.
 */
export async function sendAttempt(
  fetchFunction: FetchFunction,
  request: Request,
  limits: AttemptLimits,
): Promise<Response> {
  const { signal } = limits;
  signal?.throwIfAborted();
  const remaining = limits.deadline - performance.now();
  const perAttempt = limits.timeout === false ? Number.POSITIVE_INFINITY : limits.timeout;
  const scope = perAttempt <= remaining ? 'attempt' : 'total';
  const limit = Math.min(perAttempt, remaining);
  const total = limits.totalTimeout === false ? 0 : limits.totalTimeout;
  if (limit <= 0) throw new TimeoutError(total, 'total');

  // One controller and one timer per attempt, cleared on the response: cheaper than
  // AbortSignal.timeout, whose timer lives on until it fires.
  const controller = new AbortController();
  let timedOut = false;
  const timer = Number.isFinite(limit)
    ? setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, limit)
    : undefined;
  const fetchSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  try {
    return await fetchFunction(request, { signal: fetchSignal });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timedOut) throw new TimeoutError(scope === 'attempt' ? perAttempt : total, scope);
    throw new NetworkError(error);
  } finally {
    clearTimeout(timer);
  }
}

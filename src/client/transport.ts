import { NetworkError } from './errors/network-error.ts';
import { TimeoutError } from './errors/timeout-error.ts';

/** The fetch function oncely sends with: the platform's, or one injected through the options. */
export type FetchFunction = (input: Request | string, init?: RequestInit) => Promise<Response>;

/**
 * One attempt's request as a URL and a fresh init object. Cheaper than a `Request`, which fetch
 * would copy again (the client's hot path, issue 2's 1.10× target); `sendAttempt` sets its signal.
 */
export interface RequestParts {
  readonly url: string;
  readonly init: RequestInit;
}

/** A Request from parts, for callers that want one (the `attempt` hook). */
export function toRequest(input: Request | RequestParts): Request {
  return input instanceof Request ? input : new Request(input.url, input.init);
}

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
 * a {@link NetworkError} for any other rejection: what fetch refuses to send was refused before
 * the first attempt (prepareRequest's `assertFetchable`), so a rejection here means no response
 * arrived.
 */
export async function sendAttempt(
  fetchFunction: FetchFunction,
  request: Request | RequestParts,
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

  // One controller and one timer per attempt, cleared on the response (cheaper than
  // AbortSignal.timeout, whose timer lives on until it fires). Without a limit, fetch gets the
  // caller's signal or none: passing one costs Node's fetch (undici) a listener, a WeakRef and a
  // finalizer per request.
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fetchSignal = signal;
  if (Number.isFinite(limit)) {
    const controller = new AbortController();
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, limit);
    fetchSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  }
  try {
    if (request instanceof Request) {
      return await fetchFunction(request, fetchSignal && { signal: fetchSignal });
    }
    if (fetchSignal) request.init.signal = fetchSignal;
    return await fetchFunction(request.url, request.init);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timedOut) throw new TimeoutError(scope === 'attempt' ? perAttempt : total, scope);
    throw new NetworkError(error);
  } finally {
    clearTimeout(timer);
  }
}

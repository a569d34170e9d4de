import pRetry from 'p-retry';
import { backoffDelay } from '../retry/backoff.ts';
import type { RetryBudget } from '../retry/budget.ts';
import { mayRetry, type RetryPolicy } from '../retry/policy.ts';
import { sleep } from '../retry/sleep.ts';
import { type AttemptFailure, attemptFailure } from './attempt-failure.ts';
import type { AttemptRecord } from './attempt-record.ts';
import { classifyResponse } from './classify.ts';
import { NetworkError } from './errors/network-error.ts';
import { RetryAfterTooLongError } from './errors/retry-after-too-long-error.ts';
import { RetryLimitError, type RetryStop } from './errors/retry-limit-error.ts';
import { TimeoutError } from './errors/timeout-error.ts';
import type { ClientHooks } from './events.ts';
import { isReplayed } from './replayed.ts';
import {
  type AttemptLimits,
  type FetchFunction,
  type RequestParts,
  sendAttempt,
  toRequest,
} from './transport.ts';

/** Everything one call needs: a fixed key and a factory of fresh requests. */
export interface AttemptPlan {
  /** The key every attempt carries (already in the requests' headers), or undefined for none. */
  readonly key: string | undefined;
  /** Upper-case method: decides whether a request without a key may be retried. */
  readonly method: string;
  /**
   * A new request for each attempt, so that the body can be sent again: a `Request`, or a URL and
   * a fresh init object (cheaper; see {@link RequestParts}).
   */
  readonly createRequest: (attempt: number) => Request | RequestParts;
  readonly fetch: FetchFunction;
  readonly policy: RetryPolicy;
  readonly timeout: number | false;
  readonly totalTimeout: number | false;
  readonly signal?: AbortSignal | undefined;
  readonly budget?: RetryBudget | undefined;
  readonly hooks?: ClientHooks | undefined;
}

/** How a call ended. A cancellation is not an outcome: it rejects with the signal's reason. */
export type AttemptOutcome =
  | {
      readonly ok: true;
      readonly response: Response;
      readonly attempts: readonly AttemptRecord[];
    }
  | {
      readonly ok: false;
      /** What the caller should see: `HttpError`, `RetryLimitError`, `TimeoutError`… */
      readonly error: Error;
      /** The last response, unread, when the last attempt got one. */
      readonly response: Response | undefined;
      /** Whether the last failure was of a kind worth trying again later with the same key. */
      readonly retryable: boolean;
      /** The last response's `Retry-After`, in milliseconds. */
      readonly retryAfter: number | undefined;
      readonly attempts: readonly AttemptRecord[];
    };

/**
 * Runs the attempts of one call with one key. The first attempt runs directly (the hot path
 * pays for no retry machinery); once it fails with a retryable failure p-retry owns the loop, and
 * oncely only decides in `shouldRetry`: Retry-After and its cap, the deadline, the budget, the
 * backoff wait. It never throws for a failed request: the durable-operations layer reads
 * `retryable` and `retryAfter` to reschedule. It rejects only with the signal's abort reason.
 */
export function runAttempts(plan: AttemptPlan): Promise<AttemptOutcome> {
  // The limits every attempt of this call shares: the deadline is the whole call's.
  const limits: AttemptLimits = {
    timeout: plan.timeout,
    deadline:
      plan.totalTimeout === false
        ? Number.POSITIVE_INFINITY
        : performance.now() + plan.totalTimeout,
    totalTimeout: plan.totalTimeout,
    signal: plan.signal,
  };
  const records: AttemptRecord[] = [];
  let first: Promise<Response | AttemptFailure>;
  try {
    first = tryAttempt(plan, 1, limits, records);
  } catch (error) {
    return Promise.reject(error);
  }
  return first.then((result) =>
    'error' in result
      ? afterFirst(plan, limits, records, result)
      : succeed(plan, result, 1, records, 0),
  );
}

/** A fresh request for `attempt`, told to the `attempt` hook. */
function requestFor(plan: AttemptPlan, attempt: number): Request | RequestParts {
  const request = plan.createRequest(attempt);
  if (plan.hooks?.attempt)
    plan.hooks.attempt({ key: plan.key, attempt, request: toRequest(request) });
  return request;
}

/** The rest of a call whose first attempt failed: give up, or let p-retry run the retries. */
async function afterFirst(
  plan: AttemptPlan,
  limits: AttemptLimits,
  records: AttemptRecord[],
  first: AttemptFailure,
): Promise<AttemptOutcome> {
  if (!first.retryable || !mayRetry(plan.policy, plan.method, plan.key !== undefined)) {
    return fail(plan, first, first.error, records);
  }

  // Written by the callbacks below; `stop` is asserted so the type checker does not narrow it away.
  let stop = 'attempts' as RetryStop | 'retry-after';
  let lastCost = 0;
  let attempt = 1;
  // The latest failure: what p-retry is handed is its `error`.
  let last = first;
  try {
    const result = await pRetry(
      async (attemptNumber) => {
        // p-retry numbers its own attempts; the first was already made above.
        if (attemptNumber === 1) throw first.error;
        attempt = attemptNumber;
        const result = await tryAttempt(plan, attemptNumber, limits, records);
        if (!('error' in result)) return result;
        last = result;
        // A failure no retry can change ends the loop as a result, not as p-retry's AbortError.
        if (result.retryable) throw result.error;
        return result;
      },
      {
        retries: plan.policy.attempts - 1,
        minTimeout: 0, // oncely computes the wait itself: full jitter, Retry-After
        signal: plan.signal,
        shouldRetry: async ({ error }) => {
          // Not an attempt's failure: a hook or createRequest threw. It fails the call.
          if (error !== last.error) return false;
          const failure = last;
          const decision = decide(plan, failure, limits.deadline);
          if (typeof decision !== 'number') {
            stop = decision;
            return false;
          }
          const kind = failure.reason === 'timeout' ? 'timeout' : 'other';
          lastCost = plan.budget?.acquire(kind) ?? 0;
          if (plan.budget && lastCost === 0) {
            stop = 'budget';
            return false;
          }
          plan.hooks?.retry?.({
            key: plan.key,
            attempt: failure.attempt,
            delay: decision,
            reason: failure.reason,
            status: failure.response?.status,
            error: failure.error,
            retryAfter: failure.retryAfter,
          });
          // Free the connection: nobody will read this body.
          failure.response?.body?.cancel().catch(() => {});
          await sleep(decision, plan.signal);
          return true;
        },
      },
    );
    if ('error' in result) return fail(plan, result, result.error, records);
    return succeed(plan, result, attempt, records, lastCost);
  } catch (error) {
    if (error !== last.error) throw error; // the caller's abort reason
    const failure = last;
    const final =
      stop === 'retry-after' && failure.response && failure.retryAfter !== undefined
        ? new RetryAfterTooLongError(
            failure.retryAfter,
            plan.policy.maxRetryAfter,
            plan.key,
            records.slice(),
            failure.response,
          )
        : new RetryLimitError(plan.key, records.slice(), stop as RetryStop, failure.response);
    return fail(plan, failure, final, records);
  }
}

/** The wait before the next attempt, or why there is none. */
function decide(
  plan: AttemptPlan,
  failure: AttemptFailure,
  deadline: number,
): number | RetryStop | 'retry-after' {
  const { policy } = plan;
  let delay: number;
  if (failure.retryAfter !== undefined) {
    if (failure.retryAfter > policy.maxRetryAfter) return 'retry-after';
    delay = failure.retryAfter; // the server's timing, without jitter
  } else {
    delay = backoffDelay(failure.attempt, {
      base: policy.backoffBase,
      cap: policy.backoffCap,
      jitter: policy.jitter,
    });
  }
  if (performance.now() + delay >= deadline) return 'deadline';
  return delay;
}

/**
 * One attempt: its response when 2xx, or its failure, recorded. Not an async function: no frame
 * of its own stays suspended while the request is in flight, which cost GC work at 32 concurrent
 * calls (issue 2). A throw from `createRequest` or the `attempt` hook is thrown at once.
 */
function tryAttempt(
  plan: AttemptPlan,
  attempt: number,
  limits: AttemptLimits,
  records: AttemptRecord[],
): Promise<Response | AttemptFailure> {
  const sent = sendAttempt(plan.fetch, requestFor(plan, attempt), limits);
  return sent.then<Response | AttemptFailure, AttemptFailure>(
    (response) => (response.ok ? response : failureOf(plan, attempt, response, records)),
    (error: unknown) => failureFrom(attempt, error, records),
  );
}

/** A response that is not 2xx, classified and recorded. */
async function failureOf(
  plan: AttemptPlan,
  attempt: number,
  response: Response,
  records: AttemptRecord[],
): Promise<AttemptFailure> {
  return record(records, await classifyResponse(response, attempt, plan.key, plan.policy));
}

/** An attempt that got no response, recorded; the caller's abort reason is thrown on. */
function failureFrom(attempt: number, error: unknown, records: AttemptRecord[]): AttemptFailure {
  if (error instanceof TimeoutError) {
    // A timeout of the whole call is final; one attempt's timeout is retried like a network error.
    return record(records, attemptFailure(attempt, 'timeout', error.scope === 'attempt', error));
  }
  if (error instanceof NetworkError) {
    return record(records, attemptFailure(attempt, 'network', true, error));
  }
  throw error; // the caller's abort reason
}

function record(records: AttemptRecord[], failure: AttemptFailure): AttemptFailure {
  records.push({
    attempt: failure.attempt,
    reason: failure.reason,
    status: failure.response?.status,
    error: failure.error,
  });
  return failure;
}

function succeed(
  plan: AttemptPlan,
  response: Response,
  attempt: number,
  records: AttemptRecord[],
  lastCost: number,
): AttemptOutcome {
  plan.budget?.release(lastCost);
  // Read only for a hook: a header lookup on every response was the hot path's cost for nothing.
  const onReplay = plan.hooks?.replay;
  if (onReplay && isReplayed(response)) onReplay({ key: plan.key, attempt, response });
  return { ok: true, response, attempts: records };
}

function fail(
  plan: AttemptPlan,
  failure: AttemptFailure,
  error: Error,
  records: AttemptRecord[],
): AttemptOutcome {
  plan.hooks?.giveUp?.({ key: plan.key, attempts: records, error });
  return {
    ok: false,
    error,
    response: failure.response,
    retryable: failure.retryable,
    retryAfter: failure.retryAfter,
    attempts: records,
  };
}

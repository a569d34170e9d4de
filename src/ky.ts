/**
 * `oncely/ky`: oncely's key and retry rules for an existing ky instance. ky's own retry loop owns
 * the attempts (exactly one loop, issue 2); these hooks decide and attach the key.
 */
import {
  type AfterResponseHook,
  type BeforeErrorHook,
  type BeforeRequestHook,
  type BeforeRetryHook,
  type InitHook,
  isHTTPError,
  isNetworkError,
  isTimeoutError,
  type RetryOptions as KyRetryOptions,
  type Options,
  type ShouldRetryState,
} from 'ky';
import { chooseKey, keyGenerator, readKey } from './client/choose-key.ts';
import { RetryAfterTooLongError } from './client/errors/retry-after-too-long-error.ts';
import { RetryLimitError } from './client/errors/retry-limit-error.ts';
import type { ClientHooks } from './client/events.ts';
import { isReplayed } from './client/replayed.ts';
import { formatKeyHeader, KEY_HEADER, type KeyFormat } from './protocol.ts';
import { backoffDelay } from './retry/backoff.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry/budget.ts';
import { isRetryableStatus, mayRetry, type RetryInput, resolvePolicy } from './retry/policy.ts';
import { parseRetryAfter } from './retry/retry-after.ts';

export { isReplayed } from './client/replayed.ts';

/** Options of {@link idempotency}; the same meaning and defaults as `createClient`'s. */
export interface IdempotencyOptions {
  /**
   * Retry rules. Only methods ky knows are retried (GET, POST, PUT, PATCH, DELETE, HEAD,
   * OPTIONS, TRACE, QUERY).
   * @default { attempts: 3, backoffBase: 300, backoffCap: 10_000, jitter: true, maxRetryAfter: 60_000 }
   */
  retry?: RetryInput;
  /** @default 'token' */
  keyFormat?: KeyFormat;
  /**
   * How a key is made when the call does not give one; validated as a given key is.
   * @default newKey (a v4 UUID from the CSPRNG)
   * @example
   * ```ts
   * import { newKey } from 'oncely';
   *
   * const options = idempotency({ generateKey: () => newKey({ version: 'v7' }) });
   * ```
   */
  generateKey?: () => string;
  /** @default a new RetryBudget() shared by every call made with these options */
  budget?: RetryBudget | RetryBudgetOptions | false;
  /**
   * Limit of one attempt, in milliseconds.
   * @default 10_000
   */
  timeout?: number | false;
  /**
   * Limit of a whole call, in milliseconds.
   * @default 30_000
   */
  totalTimeout?: number | false;
  /** `attempt` fires once per ky call (ky has no hook per attempt); the others as in the client. */
  hooks?: ClientHooks;
}

/** Per-call settings, through ky's `context` option. */
export interface IdempotencyContext {
  /** A key for this call, `true` to generate one for any method, `false` for none. */
  idempotencyKey?: string | boolean;
}

const KY_METHODS: NonNullable<KyRetryOptions['methods']> = [
  'get',
  'post',
  'put',
  'patch',
  'delete',
  'head',
  'options',
  'trace',
  'query',
];
const STATE = Symbol('oncely.ky');

interface CallState {
  key: string | undefined;
  lastCost: number;
  /** When ky's totalTimeout ends the call, on the performance.now() clock. */
  deadline: number;
}

/**
 * ky options that send one idempotency key per ky call (the same on ky's own retries) and retry
 * by oncely's rules: any request with a key, 409 only with a key, Retry-After capped with
 * `RetryAfterTooLongError` beyond the cap, a shared retry budget.
 *
 * @example
 * ```ts
 * import ky from 'ky';
 * import { idempotency } from 'oncely/ky';
 *
 * const api = ky.create({ baseUrl: 'https://api.example.com/', ...idempotency() });
 * await api.post('charges', { json: { amount: 500 } });                  // key generated
 * await api.post('payouts', { json, context: { idempotencyKey: 'payout:acct_9:1d@2026-11-23' } });
 * ```
 */
export function idempotency(options: IdempotencyOptions = {}): Options {
  const policy = resolvePolicy(options.retry);
  const budget =
    options.budget === false
      ? undefined
      : options.budget instanceof RetryBudget
        ? options.budget
        : new RetryBudget(options.budget);
  const { hooks } = options;
  const generateKey = keyGenerator(options.generateKey);
  // Retry decisions cannot see ky's per-call context: they hand data to beforeRetry by error.
  const decided = new WeakMap<Error, { cost: number; at: number }>();

  // Only init sees the call's own totalTimeout, and ky starts its clock right after init.
  const startClock: InitHook = (kyOptions) => {
    const total = kyOptions.totalTimeout;
    const deadline = typeof total === 'number' ? performance.now() + total : Infinity;
    const state: CallState = { key: undefined, lastCost: 0, deadline };
    kyOptions.context = { ...kyOptions.context, [STATE]: state };
    // ky skips the beforeRetry hooks after one that returns a Request or a Response, and extend()
    // appends ours after the instance's: first, the retry is still reported and its cost recorded.
    const retryHooks = kyOptions.hooks?.beforeRetry;
    if (retryHooks && retryHooks[0] !== onRetry && retryHooks.includes(onRetry)) {
      const others = retryHooks.filter((hook) => hook !== onRetry);
      kyOptions.hooks = { ...kyOptions.hooks, beforeRetry: [onRetry, ...others] };
    }
  };

  const attachKey: BeforeRequestHook = ({ request, options: kyOptions }) => {
    const context = kyOptions.context as IdempotencyContext & { [STATE]?: CallState };
    const key = chooseKey(context.idempotencyKey, request.headers, request.method, generateKey);
    if (key !== undefined) request.headers.set(KEY_HEADER, formatKeyHeader(key, options.keyFormat));
    const state = context[STATE] ?? { key, lastCost: 0, deadline: Infinity };
    state.key = key;
    context[STATE] = state;
    hooks?.attempt?.({ key, attempt: 1, request });
  };

  const shouldRetry = ({ error, retryCount }: ShouldRetryState): boolean | undefined => {
    const request = (error as { request?: Request }).request;
    if (!request) return false;
    const key = readKey(request.headers);
    if (!mayRetry(policy, request.method, key !== undefined)) return false;
    let response: Response | undefined;
    let after: number | undefined;
    if (isHTTPError(error)) {
      response = error.response;
      if (!isRetryableStatus(policy, response.status, key !== undefined)) return false;
      after = parseRetryAfter(response.headers.get('retry-after'));
      if (after !== undefined && after > policy.maxRetryAfter) {
        // ky has read the body into the HTTPError's data: it stays reachable as the cause.
        const attempt = {
          attempt: retryCount,
          reason: 'status',
          status: response.status,
          error,
        } as const;
        throw new RetryAfterTooLongError(after, policy.maxRetryAfter, key, [attempt], response);
      }
      // A wait that would end after totalTimeout is not started (the client's rule): ky would
      // wait out the rest of totalTimeout and only then throw a TimeoutError.
      const state = (error.options.context as { [STATE]?: CallState })[STATE];
      if (after !== undefined && state && performance.now() + after >= state.deadline) return false;
    } else if (!isNetworkError(error) && !isTimeoutError(error)) {
      return false;
    }
    let cost = 0;
    if (budget) {
      cost = budget.acquire(isTimeoutError(error) ? 'timeout' : 'other');
      if (cost === 0) {
        const reason = response ? 'status' : isTimeoutError(error) ? 'timeout' : 'network';
        const attempt = { attempt: retryCount, reason, status: response?.status, error } as const;
        throw new RetryLimitError(key, [attempt], 'budget', response);
      }
    }
    decided.set(error, { cost, at: performance.now() });
    // undefined lets ky wait the Retry-After, without jitter. Without one, true makes ky wait the
    // jittered backoff: its defaults would read RateLimit-Reset and X-RateLimit-Reset instead, which
    // the client ignores, waiting up to maxRetryAfter with no RetryAfterTooLongError beyond it.
    return after === undefined ? true : undefined;
  };

  const onRetry: BeforeRetryHook = ({ error, retryCount, options: kyOptions, request }) => {
    const state = (kyOptions.context as { [STATE]?: CallState })[STATE];
    const decision = decided.get(error);
    if (state && decision) state.lastCost = decision.cost;
    const response = isHTTPError(error) ? error.response : undefined;
    hooks?.retry?.({
      key: state?.key ?? readKey(request.headers),
      attempt: retryCount,
      delay: decision ? Math.round(performance.now() - decision.at) : 0,
      reason: response ? 'status' : isTimeoutError(error) ? 'timeout' : 'network',
      status: response?.status,
      error,
      retryAfter: response ? parseRetryAfter(response.headers.get('retry-after')) : undefined,
    });
  };

  const onResponse: AfterResponseHook = ({ response, options: kyOptions, retryCount }) => {
    if (!response.ok) return;
    const state = (kyOptions.context as { [STATE]?: CallState })[STATE];
    budget?.release(state?.lastCost);
    if (isReplayed(response)) {
      hooks?.replay?.({ key: state?.key, attempt: retryCount + 1, response });
    }
  };

  const onError: BeforeErrorHook = ({ error, options: kyOptions }) => {
    const state = (kyOptions.context as { [STATE]?: CallState })[STATE];
    hooks?.giveUp?.({ key: state?.key, attempts: [], error });
    return error;
  };

  return {
    timeout: options.timeout ?? 10_000,
    totalTimeout: options.totalTimeout ?? 30_000,
    retry: {
      limit: policy.attempts - 1,
      methods: KY_METHODS,
      statusCodes: [...policy.statusCodes],
      afterStatusCodes: [...policy.statusCodes],
      maxRetryAfter: policy.maxRetryAfter,
      backoffLimit: policy.backoffCap,
      // The client's backoff ceiling, capped before ky's jitter: ky clamps the jittered draw to
      // backoffLimit, so an uncapped delay would make late retries wait exactly the cap, every
      // client in step (no full jitter).
      delay: (attempt) =>
        backoffDelay(attempt, { base: policy.backoffBase, cap: policy.backoffCap, jitter: false }),
      jitter: policy.jitter,
      retryOnTimeout: true,
      shouldRetry,
    },
    hooks: {
      init: [startClock],
      beforeRequest: [attachKey],
      beforeRetry: [onRetry],
      afterResponse: [onResponse],
      beforeError: [onError],
    },
  };
}

import { RetryBudget } from '../retry/budget.ts';
import { DEFAULT_POLICY, resolvePolicy } from '../retry/policy.ts';
import { type AttemptOutcome, runAttempts } from './attempt-loop.ts';
import { keyGenerator } from './choose-key.ts';
import { RetryAfterTooLongError } from './errors/retry-after-too-long-error.ts';
import { createOperations, type Operations } from './operations/create-operations.ts';
import type { ClientOptions, RequestOptions } from './options.ts';
import { type PreparedRequest, prepareRequest, type RequestDefaults } from './prepare-request.ts';
import type { FetchFunction } from './transport.ts';

/** Options of the method shortcuts: everything but the method. */
export type MethodOptions = Omit<RequestOptions, 'method'>;

/** A retrying fetch that sends one idempotency key per logical call, and durable operations. */
export interface Client extends Operations {
  /** fetch's signature, plus `idempotencyKey`, `json`, `timeout`, `totalTimeout` and `retry`. */
  fetch(input: string | URL | Request, options?: RequestOptions): Promise<Response>;
  get(url: string | URL, options?: MethodOptions): Promise<Response>;
  post(url: string | URL, options?: MethodOptions): Promise<Response>;
  put(url: string | URL, options?: MethodOptions): Promise<Response>;
  patch(url: string | URL, options?: MethodOptions): Promise<Response>;
  delete(url: string | URL, options?: MethodOptions): Promise<Response>;
  /** The budget shared by this client's calls, when it has one. */
  readonly budget: RetryBudget | undefined;
}

/**
 * Creates a client whose calls send the same `Idempotency-Key` on every attempt, and retry what
 * is safe to retry: any request that carries a key, and idempotent methods without one.
 *
 * @example
 * ```ts
 * const api = createClient({ baseUrl: 'https://api.example.com/' });
 * const response = await api.post('charges', { json: { amount: 500 } }); // key generated
 * await api.post('payouts', { json, idempotencyKey: keyFrom('payout', acct, window('1d')) });
 * ```
 */
export function createClient(options: ClientOptions = {}): Client {
  const policy = resolvePolicy(options.retry, DEFAULT_POLICY);
  const budget =
    options.budget === false
      ? undefined
      : options.budget instanceof RetryBudget
        ? options.budget
        : new RetryBudget(options.budget);
  const defaults: RequestDefaults = {
    baseUrl: options.baseUrl,
    headers: typeof options.headers === 'function' ? undefined : options.headers,
    keyFormat: options.keyFormat ?? 'token',
    generateKey: keyGenerator(options.generateKey),
  };
  const timeout = options.timeout ?? 10_000;
  const totalTimeout = options.totalTimeout ?? 30_000;
  const throwHttpErrors = options.throwHttpErrors ?? true;

  function send(input: string | URL | Request, init: RequestOptions = {}): Promise<Response> {
    // Not an async function: a call in flight then holds no suspended frame here (see
    // runAttempts), and the common call (static headers, a body at hand) is prepared at once.
    try {
      if (typeof options.headers === 'function') {
        const headers = options.headers;
        return Promise.resolve(headers()).then((resolved) =>
          whenPrepared(prepareRequest(input, init, { ...defaults, headers: resolved }), init),
        );
      }
      return whenPrepared(prepareRequest(input, init, defaults), init);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function whenPrepared(
    preparing: PreparedRequest | Promise<PreparedRequest>,
    init: RequestOptions,
  ): Promise<Response> {
    if (preparing instanceof Promise) return preparing.then((ready) => dispatch(ready, init));
    return dispatch(preparing, init);
  }

  /** The attempts of a prepared call, with the client's settings and the call's own. */
  function attempt(prepared: PreparedRequest, init: RequestOptions = {}): Promise<AttemptOutcome> {
    return runAttempts({
      ...prepared,
      fetch: options.fetch ?? (globalThis.fetch as FetchFunction),
      policy: resolvePolicy(init.retry, policy),
      timeout: init.timeout ?? timeout,
      totalTimeout: init.totalTimeout ?? totalTimeout,
      budget,
      hooks: options.hooks,
    });
  }

  function dispatch(prepared: PreparedRequest, init: RequestOptions): Promise<Response> {
    return attempt(prepared, init).then((outcome) => {
      if (outcome.ok) return outcome.response;
      const returnResponse =
        !(init.throwHttpErrors ?? throwHttpErrors) &&
        outcome.response !== undefined &&
        !(outcome.error instanceof RetryAfterTooLongError);
      if (returnResponse && outcome.response) return outcome.response;
      throw outcome.error;
    });
  }

  const shortcut = (method: string) => (url: string | URL, init?: MethodOptions) =>
    send(url, { ...init, method });

  const operations = createOperations({ ...defaults, headers: options.headers, attempt }, options);

  return {
    ...operations,
    fetch: send,
    get: shortcut('GET'),
    post: shortcut('POST'),
    put: shortcut('PUT'),
    patch: shortcut('PATCH'),
    delete: shortcut('DELETE'),
    budget,
  };
}

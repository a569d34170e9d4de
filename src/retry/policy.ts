/**
 * What is retried and how long to wait: the retry rules of issue 2 as data, so the client, the
 * ky integration and the durable operations all apply the same ones.
 */

/** Statuses retried by default. 409 only counts for a request that carries a key (see below). */
export const RETRY_STATUS_CODES: readonly number[] = [408, 409, 425, 429, 500, 502, 503, 504];

/** Methods retried without a key: the idempotent ones of RFC 9110 §9.2.2. */
export const IDEMPOTENT_METHODS: readonly string[] = [
  'GET',
  'HEAD',
  'PUT',
  'DELETE',
  'OPTIONS',
  'TRACE',
];

/** Methods that get a generated key unless the call opts out. */
export const KEYED_METHODS: readonly string[] = ['POST', 'PATCH'];

/** Retry settings; every field is optional and falls back to the default shown. */
export interface RetryOptions {
  /**
   * Attempts in all, the first included. Wins over `limit` when both are given.
   * @default 3
   */
  attempts?: number;
  /**
   * Retries after the first attempt (ky's name); `attempts = limit + 1`.
   * @default 2
   */
  limit?: number;
  /**
   * Base of the exponential backoff, in milliseconds: retry n waits up to `base × 2^(n−1)`.
   * @default 300
   */
  backoffBase?: number;
  /**
   * Longest backoff before jitter, in milliseconds.
   * @default 10_000
   */
  backoffCap?: number;
  /**
   * Full jitter: wait a uniform random time up to the backoff. Never applied to `Retry-After`.
   * @default true
   */
  jitter?: boolean;
  /**
   * Longest `Retry-After` honoured, in milliseconds. A longer one ends retrying at once with
   * `RetryAfterTooLongError` instead of hanging.
   * @default 60_000
   */
  maxRetryAfter?: number;
  /**
   * Statuses that are retried. 409 is retried only for a request that carries a key: the server
   * says the same key is still being processed.
   * @default [408, 409, 425, 429, 500, 502, 503, 504]
   */
  statusCodes?: readonly number[];
  /**
   * Methods retried when the request carries no key. A request with a key is retried whatever
   * its method.
   * @default ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']
   */
  methods?: readonly string[];
}

/** {@link RetryOptions} with every default filled in. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly backoffBase: number;
  readonly backoffCap: number;
  readonly jitter: boolean;
  readonly maxRetryAfter: number;
  readonly statusCodes: ReadonlySet<number>;
  readonly methods: ReadonlySet<string>;
}

/** Why an attempt failed. */
export const FAILURE_REASONS = {
  network: 'network',
  timeout: 'timeout',
  status: 'status',
} as const;
export type FailureReason = (typeof FAILURE_REASONS)[keyof typeof FAILURE_REASONS];

export const DEFAULT_POLICY: RetryPolicy = Object.freeze({
  attempts: 3,
  backoffBase: 300,
  backoffCap: 10_000,
  jitter: true,
  maxRetryAfter: 60_000,
  statusCodes: new Set(RETRY_STATUS_CODES),
  methods: new Set(IDEMPOTENT_METHODS),
});

/**
 * Retry settings as a call or a client gives them: options, a number of retries (ky's shorthand),
 * or `false` for a single attempt.
 */
export type RetryInput = RetryOptions | number | false;

/** Fills in `input` over `base`. Returns `base` itself when there is nothing to change. */
export function resolvePolicy(
  input: RetryInput | undefined,
  base: RetryPolicy = DEFAULT_POLICY,
): RetryPolicy {
  if (input === undefined) return base;
  if (input === false) return { ...base, attempts: 1 };
  if (typeof input === 'number') return { ...base, attempts: checkAttempts(input + 1) };
  const attempts = input.attempts ?? (input.limit === undefined ? base.attempts : input.limit + 1);
  return {
    attempts: checkAttempts(attempts),
    backoffBase: atLeastZero('backoffBase', input.backoffBase ?? base.backoffBase),
    backoffCap: atLeastZero('backoffCap', input.backoffCap ?? base.backoffCap),
    jitter: input.jitter ?? base.jitter,
    maxRetryAfter: atLeastZero('maxRetryAfter', input.maxRetryAfter ?? base.maxRetryAfter),
    statusCodes: input.statusCodes ? new Set(input.statusCodes) : base.statusCodes,
    methods: input.methods
      ? new Set(input.methods.map((method) => method.toUpperCase()))
      : base.methods,
  };
}

// NaN would make every comparison false: maxRetryAfter: NaN never stops at a long Retry-After,
// and a negative backoff waits nothing. Infinity is allowed (no cap).
function atLeastZero(name: string, value: number): number {
  if (!(value >= 0))
    throw new RangeError(`retry ${name} must be a number of at least 0, got ${value}`);
  return value;
}

function checkAttempts(attempts: number): number {
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`retry attempts must be an integer of at least 1, got ${attempts}`);
  }
  return attempts;
}

/** Whether a request may be retried at all: it carries a key, or its method is idempotent. */
export function mayRetry(policy: RetryPolicy, method: string, hasKey: boolean): boolean {
  return policy.attempts > 1 && (hasKey || policy.methods.has(method));
}

/** Whether a response status is worth another attempt. */
export function isRetryableStatus(policy: RetryPolicy, status: number, hasKey: boolean): boolean {
  if (status === 409 && !hasKey) return false;
  return policy.statusCodes.has(status);
}

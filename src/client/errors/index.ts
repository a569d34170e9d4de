import { isOncelyError } from '../../errors/oncely-error.ts';
import type { HttpError } from './http-error.ts';
import type { RetryAfterTooLongError } from './retry-after-too-long-error.ts';
import type { RetryLimitError } from './retry-limit-error.ts';
import type { TimeoutError } from './timeout-error.ts';

export { isOncelyError, OncelyError } from '../../errors/oncely-error.ts';
export { InvalidKeyError } from '../../key/invalid-key-error.ts';
export { HttpError } from './http-error.ts';
export { KeyRequiredError } from './key-required-error.ts';
export { KeyReusedError } from './key-reused-error.ts';
export { NetworkError } from './network-error.ts';
export { RetryAfterTooLongError } from './retry-after-too-long-error.ts';
export { RETRY_STOPS, RetryLimitError, type RetryStop } from './retry-limit-error.ts';
export { TimeoutError } from './timeout-error.ts';

/** Stable codes of the client's errors. */
export const CLIENT_ERROR_CODES = {
  invalidKey: 'INVALID_KEY',
  http: 'HTTP_ERROR',
  keyReused: 'KEY_REUSED',
  keyRequired: 'KEY_REQUIRED',
  network: 'NETWORK_ERROR',
  timeout: 'TIMEOUT',
  retryLimit: 'RETRY_LIMIT',
  retryAfterTooLong: 'RETRY_AFTER_TOO_LONG',
} as const;

const HTTP_CODES = new Set<string>(['HTTP_ERROR', 'KEY_REUSED', 'KEY_REQUIRED']);

// The guards below check the code, not `instanceof`, so they hold across realms and bundles.

/** True for an error that carries a response: `HttpError`, `KeyReusedError`, `KeyRequiredError`. */
export function isHttpError(error: unknown): error is HttpError {
  return isOncelyError(error) && HTTP_CODES.has(error.code);
}

/** True for a {@link RetryLimitError}. */
export function isRetryLimitError(error: unknown): error is RetryLimitError {
  return isOncelyError(error, 'RETRY_LIMIT');
}

/** True for a {@link TimeoutError}. */
export function isTimeoutError(error: unknown): error is TimeoutError {
  return isOncelyError(error, 'TIMEOUT');
}

/** True for a {@link RetryAfterTooLongError}. */
export function isRetryAfterTooLongError(error: unknown): error is RetryAfterTooLongError {
  return isOncelyError(error, 'RETRY_AFTER_TOO_LONG');
}

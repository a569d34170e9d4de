import { InvalidKeyError } from './invalid-key-error.ts';

/** The longest key oncely sends or accepts, in characters. */
export const MAX_KEY_LENGTH = 255;

// Printable ASCII without space (0x21 to 0x7E): survives every header stack and log unescaped.
const KEY_PATTERN = /^[\x21-\x7e]+$/;

/** Why `key` is not a valid idempotency key, or `undefined` when it is. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return `expected a string, got ${typeof key}`;
  if (key.length === 0) return 'the key is empty';
  if (key.length > MAX_KEY_LENGTH) {
    return `the key is ${key.length} characters long; the limit is ${MAX_KEY_LENGTH}`;
  }
  if (!KEY_PATTERN.test(key)) return 'only printable ASCII without spaces is allowed';
  return undefined;
}

/**
 * Throws {@link InvalidKeyError} unless `key` is 1 to 255 characters of printable ASCII without
 * spaces, and returns it typed as a string.
 *
 * @example
 * ```ts
 * assertValidKey('order-42:2026-11-23'); // ok
 * assertValidKey('has space');           // throws InvalidKeyError
 * ```
 */
export function assertValidKey(key: unknown): string {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(key, problem);
  return key as string;
}

/** True when `key` is a valid idempotency key. */
export function isValidKey(key: unknown): key is string {
  return keyProblem(key) === undefined;
}

import { InvalidKeyError } from './invalid-key-error.ts';
import { assertValidKey } from './validate.ts';
import { isTimeWindow, type TimeWindow } from './window.ts';

/** One readable part of a deterministic key. */
export type KeyPart = string | number | bigint | TimeWindow;

const SEPARATOR = ':';

/**
 * Builds a deterministic idempotency key from readable parts, for a key algorithm the consumer
 * designs per use case (an order id, a user id, a time window…). The same parts always give the
 * same key, and different parts give different keys: each part is percent-encoded so that it can
 * never contain the `:` separator, which keeps `keyFrom('a:b')` apart from `keyFrom('a', 'b')`.
 *
 * Nothing is hashed (use {@link hashKey} when a part is secret or the key would be too long) and
 * nothing in oncely ever parses meaning out of the key.
 *
 * @throws {InvalidKeyError} when a part is not a string, finite number, bigint or window, or when
 * the key would be longer than 255 characters.
 * @example
 * ```ts
 * keyFrom('checkout', order.id);                         // 'checkout:ord_123'
 * keyFrom('payout', acct, window('1d'));                 // 'payout:acct_9:1d@2026-11-23'
 * keyFrom('note', 'café au lait');                       // 'note:caf%C3%A9%20au%20lait'
 * ```
 */
export function keyFrom(...parts: KeyPart[]): string {
  if (parts.length === 0) throw new InvalidKeyError('', 'keyFrom needs at least one part');
  const encoded = parts.map((part, index) => encodePart(part, index));
  return assertValidKey(encoded.join(SEPARATOR));
}

function encodePart(part: KeyPart, index: number): string {
  if (typeof part === 'string') {
    try {
      return encodeURIComponent(part);
    } catch {
      // A lone surrogate, which encodeURIComponent refuses with a bare URIError.
      throw new InvalidKeyError(part, `key part ${index} is not well-formed Unicode`);
    }
  }
  if (typeof part === 'bigint') return part.toString();
  if (typeof part === 'number') {
    if (!Number.isFinite(part)) {
      throw new InvalidKeyError(part, `key part ${index} is not a finite number`);
    }
    return String(part);
  }
  // A window keeps its `@` readable ('1d@2026-11-23', as documented): a string part never holds
  // an `@` once encoded (it becomes %40), so a window and a string can still never collide.
  if (isTimeWindow(part)) return encodeURIComponent(part.toString()).replaceAll('%40', '@');
  throw new InvalidKeyError(part, `key part ${index} must be a string, number, bigint or window`);
}

/**
 * SHA-256 of a key, as `sha256-` and 64 hex digits: for keys built from secret parts, or too long
 * to send. Opt-in only: a hashed key can no longer be read in logs.
 *
 * @example
 * ```ts
 * await hashKey(keyFrom('transfer', iban, amount)); // 'sha256-3f…'
 * ```
 */
export async function hashKey(key: string): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  // Browsers give crypto.subtle to secure contexts only: a page on plain http has none.
  if (subtle === undefined) throw new TypeError('hashKey needs crypto.subtle (HTTPS or localhost)');
  const bytes = new TextEncoder().encode(key);
  const digest = await subtle.digest('SHA-256', bytes);
  let hex = '';
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, '0');
  return `sha256-${hex}`;
}

import { InvalidKeyError } from '../key/invalid-key-error.ts';
import { randomV4Key } from '../key/random-v4.ts';
import { assertValidKey } from '../key/validate.ts';
import { KEY_HEADER, parseKeyHeader } from '../protocol.ts';
import { KEYED_METHODS } from '../retry/policy.ts';

/**
 * The key of one call, by issue 2's rules: a given key (validated before anything is sent), none
 * when the call opts out, the one already in the `Idempotency-Key` header, or a new one for POST
 * and PATCH (or any method with `true`). Opting out removes a header key too.
 */
export function chooseKey(
  option: string | boolean | undefined,
  headers: Headers | undefined,
  method: string,
  generateKey: () => string,
): string | undefined {
  if (typeof option === 'string') return assertValidKey(option);
  if (option === false) {
    headers?.delete(KEY_HEADER);
    return undefined;
  }
  const header = headers?.get(KEY_HEADER) ?? null;
  if (header !== null) {
    const parsed = parseKeyHeader(header);
    if (!parsed.ok) throw new InvalidKeyError(header, parsed.reason);
    return assertValidKey(parsed.key);
  }
  if (option === true || KEYED_METHODS.includes(method)) return generateKey();
  return undefined;
}

/**
 * The `generateKey` option as called: a custom generator's keys are validated as a given key is,
 * so a bad one throws `InvalidKeyError` before anything is sent or journaled. The default is not
 * checked again: a v4 UUID is always valid, and this runs on every keyed call.
 */
export function keyGenerator(custom: (() => string) | undefined): () => string {
  return custom === undefined ? randomV4Key : () => assertValidKey(custom());
}

/** The key a request carries, or undefined. */
export function readKey(headers: Headers): string | undefined {
  const header = headers.get(KEY_HEADER);
  if (header === null) return undefined;
  const parsed = parseKeyHeader(header);
  return parsed.ok ? parsed.key : undefined;
}

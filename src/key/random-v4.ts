/**
 * A v4 UUID from the platform's CSPRNG: `crypto.randomUUID`, several times faster than building
 * one in JS, or {@link randomV4} where it is missing. `newKey()` without options, and the client's
 * default key generator: it is kept apart from `newKey` so that a bundle which never asks for a
 * v7 does not carry uuid's v7 (issue 2's size target).
 */
export function randomV4Key(): string {
  if (typeof globalThis.crypto?.randomUUID === 'function') return globalThis.crypto.randomUUID();
  return randomV4();
}

/**
 * A v4 UUID (RFC 9562 §5.4) from `crypto.getRandomValues`, for where `crypto.randomUUID` is
 * missing: a page served over plain HTTP is not a secure context, and browsers give it
 * `getRandomValues` only. Built here rather than with uuid's `v4`, which would add its own module
 * to every browser bundle for this one fallback (issue 2's size target).
 */
export function randomV4(): string {
  // One random byte per hex digit: 4 bits of each for an `x`, 2 for the `y` (the variant, 10xx).
  const bytes = crypto.getRandomValues(new Uint8Array(31));
  let next = 0;
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (digit) => {
    const bits = (bytes[next++] as number) & 0x0f;
    return (digit === 'x' ? bits : (bits & 0x3) | 0x8).toString(16);
  });
}

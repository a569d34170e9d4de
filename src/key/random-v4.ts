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
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // variant 10
  let hex = '';
  for (const byte of bytes) hex += (byte + 0x100).toString(16).slice(1);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

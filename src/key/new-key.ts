import { v7 } from 'uuid';
import { randomV4 } from './random-v4.ts';

/** Options of {@link newKey}. */
export interface NewKeyOptions {
  /**
   * UUID version. v4 is fully random; v7 starts with a millisecond timestamp, so keys sort by
   * creation time in server logs and B-tree indexes.
   * @default 'v4'
   */
  version?: 'v4' | 'v7';
}

/**
 * A fresh random idempotency key from the platform's CSPRNG (never `Math.random`).
 * Draw one per logical operation and reuse it for every attempt of that operation.
 *
 * @example
 * ```ts
 * const key = newKey();                    // '0b5c0d3e-…'
 * const sortable = newKey({ version: 'v7' });
 * ```
 */
export function newKey(options?: NewKeyOptions): string {
  if (options?.version === 'v7') return v7();
  // crypto.randomUUID is v4 from the CSPRNG and several times faster than building one in JS.
  if (typeof globalThis.crypto?.randomUUID === 'function') return globalThis.crypto.randomUUID();
  return randomV4();
}

import { v7 } from 'uuid';
import { randomV4Key } from './random-v4.ts';

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
 * const api = createClient({ generateKey: () => newKey({ version: 'v7' }) }); // v7 for every call
 * ```
 */
export function newKey(options?: NewKeyOptions): string {
  if (options?.version === 'v7') return v7();
  return randomV4Key();
}

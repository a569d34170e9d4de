/** What one benchmark server process runs; passed to bench/support/server-app.ts as JSON. */
export interface ServerConfig {
  framework: 'express' | 'hono';
  /** `none` is the bare handler; the others put an idempotency layer in front of it. */
  guard: 'none' | 'oncely' | 'express-idempotency' | 'node-idempotency';
  /** oncely's store (ignored by the other guards, which use their own in-memory one). */
  store?: 'memory' | 'sqlite' | 'redis' | 'postgres';
  /** The SQLite file, or the Redis or PostgreSQL URL. */
  target?: string;
  /** The memory store's `maxRecords` (its default is 10,000). */
  maxRecords?: number;
  /** SQLite's `synchronous` setting (the store's default is `full`). */
  synchronous?: 'full' | 'normal';
  /**
   * Microseconds of busy work the handler does on top of its own, for the calibration cases:
   * what a fixed cost per request does to req/s on this machine.
   */
  workMicros?: number;
}

/** The route every benchmark server answers, and the body every request sends. */
export const ROUTE = '/charges';
export const PAYLOAD = JSON.stringify({ amount: 1200, currency: 'EUR', customer: 'cus_bench' });

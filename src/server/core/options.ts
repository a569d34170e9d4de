import type { Store } from '../stores/store.ts';
import type { IdempotencyEvent } from './events.ts';
import type { ProblemBuilder } from './problem.ts';

/** How a concurrent duplicate waits for the first request's response instead of a 409. */
export interface WaitOptions {
  /**
   * Longest wait before answering 409 after all.
   * @default 10_000
   */
  timeoutMs?: number;
  /**
   * How often the store is asked whether the first request is done.
   * @default 50
   */
  pollMs?: number;
}

/** Where the helper writes its one warning (no `scope`). */
export interface Logger {
  warn(message: string): void;
}

/**
 * Options of the server helper, shared by `idempotency()`, `createEngine()` and every adapter.
 * `Req` is the request type the `scope` function receives (a web `Request` for `idempotency()`).
 */
export interface CoreOptions<Req = Request> {
  /**
   * Where records live. A fleet of servers needs a shared one (`redisStore`, `postgresStore`).
   * @default memoryStore()
   */
  store?: Store;
  /**
   * Names the consumer a key belongs to (API key, user, tenant): records are kept per scope and
   * key, and one scope never finds another's. Without it every client shares one key space, and
   * the helper warns once.
   * @example
   * ```ts
   * scope: (request) => accountOf(request) // the consumer your authentication verified
   * ```
   */
  scope?: (request: Req) => string | Promise<string>;
  /**
   * Makes the key mandatory on the `methods` (400 without it). Other unsafe methods (PUT, DELETE…)
   * are guarded whenever they carry a key.
   * @default true
   */
  required?: boolean;
  /**
   * Methods whose requests need a key when `required` is on.
   * @default ['POST', 'PATCH']
   */
  methods?: readonly string[];
  /**
   * How long a completed response is kept and replayed, in ms (the draft's §2.3: keys expire).
   * @default 86_400_000 (24 h)
   */
  ttlMs?: number;
  /**
   * How long a claim holds the key without renewal, in ms. It is renewed while the handler runs;
   * if the process dies, the next retry takes the key over once the lease lapses.
   * @default 60_000
   */
  leaseMs?: number;
  /**
   * Lets a concurrent duplicate wait for the first request's response rather than get a 409.
   * `true` uses the defaults of {@link WaitOptions}.
   * @default false
   */
  wait?: boolean | WaitOptions;
  /**
   * Largest response body stored, in bytes. A larger response is still sent, but not stored: the
   * key is released and a `not-stored` event reported.
   * @default 1_048_576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Store 5xx answers too, as Stripe's v1 API does, instead of releasing the key so a retry runs
   * again.
   * @default false
   */
  storeServerErrors?: boolean;
  /**
   * Store and replay `Set-Cookie`. Off by default: a cookie usually belongs to one client session.
   * @default false
   */
  storeSetCookie?: boolean;
  /**
   * Builds the error responses, for an API with its own error envelope.
   * @default RFC 9457 `application/problem+json`
   * @example
   * ```ts
   * problem: ({ status, name, detail }) =>
   *   Response.json({ error: { type: 'idempotency_error', code: name, message: detail } }, { status })
   * ```
   */
  problem?: ProblemBuilder;
  /**
   * Prefix of the problem type URIs.
   * @default 'https://oncely.dev/problems/'
   */
  problemBaseUri?: string;
  /**
   * Receives every claim, replay, conflict, mismatch, release, takeover, not-stored response and
   * store error, with key and scope. Exceptions it throws are ignored.
   * @example
   * ```ts
   * onEvent: (event) => logger.info({ idempotency: event.type, key: event.key })
   * ```
   */
  onEvent?: (event: IdempotencyEvent) => void;
  /**
   * Run the handler inside the store's transaction (`postgresStore`): its writes through
   * `context.tx` and the stored response commit together or not at all. The store must offer
   * `transact`. The body is buffered inside the transaction (no streaming).
   * @default false
   */
  transactional?: boolean;
  /**
   * Where warnings go: a missing `scope`, and a `problem` builder that threw (the standard
   * problem+json is sent instead).
   * @default console
   */
  logger?: Logger;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

import type { KeyFormat } from '../protocol.ts';
import type { RetryBudget, RetryBudgetOptions } from '../retry/budget.ts';
import type { RetryInput } from '../retry/policy.ts';
import type { ClientHooks } from './events.ts';
import type { HeadersSource, OperationsOptions } from './operations/options.ts';
import type { FetchFunction } from './transport.ts';

/** Options of {@link createClient}. */
export interface ClientOptions extends OperationsOptions {
  /**
   * Base against which relative URLs are resolved (WHATWG URL rules: `new URL(input, baseUrl)`).
   * @example
   * ```ts
   * baseUrl: 'https://api.example.com/v1/'
   * ```
   */
  baseUrl?: string | URL;
  /**
   * The fetch to send with; read at each call when not given, so test interceptors still apply.
   * @default globalThis.fetch
   */
  fetch?: FetchFunction;
  /**
   * Retry rules: options, a number of retries, or `false` for one attempt.
   * @default { attempts: 3, backoffBase: 300, backoffCap: 10_000, jitter: true, maxRetryAfter: 60_000 }
   */
  retry?: RetryInput;
  /**
   * Limit of one attempt in milliseconds, until the response headers arrive; `false` for none.
   * @default 10_000
   */
  timeout?: number | false;
  /**
   * Limit of a whole call, every attempt and wait included; `false` for none.
   * @default 30_000
   */
  totalTimeout?: number | false;
  /**
   * How the key is written in the header: a plain token, or an RFC 8941 sf-string (`"…"`).
   * @default 'token'
   */
  keyFormat?: KeyFormat;
  /**
   * How a key is made when the call does not give one: POST and PATCH, `idempotencyKey: true`, and
   * operations without a `key` builder. Called once per logical call, never per attempt; what it
   * returns is validated as a given key is (`InvalidKeyError` before anything is sent).
   * @default newKey (a v4 UUID from the CSPRNG)
   * @example
   * ```ts
   * generateKey: () => newKey({ version: 'v7' }), // keys that sort by creation time
   * ```
   * @example
   * ```ts
   * generateKey: () => 'web-' + newKey(), // this client's keys, told apart in server logs
   * ```
   */
  generateKey?: () => string;
  /**
   * The retry budget shared by every call of this client: a `RetryBudget` (to share it between
   * clients), its options, or `false` for none.
   * @default a new RetryBudget() (500 tokens, 5 a retry, 10 a timeout retry)
   */
  budget?: RetryBudget | RetryBudgetOptions | false;
  /**
   * Headers sent with every request; a call's own headers win. A function is called at send time,
   * so credentials never need to be journaled: a resumed operation sends the current token.
   * @example
   * ```ts
   * headers: async () => ({ Authorization: 'Bearer ' + (await session.token()) })
   * ```
   */
  headers?: HeadersSource;
  /**
   * Throw `HttpError` (or a subclass) for a non-2xx response once retrying is over. With `false`
   * the last response is returned instead.
   * @default true
   */
  throwHttpErrors?: boolean;
  /** Callbacks for every attempt, retry, replay and give-up, each with the key. */
  hooks?: ClientHooks;
}

/** The fetch init, plus oncely's per-call options. */
export interface RequestOptions extends RequestInit {
  /**
   * The idempotency key: a string (validated before anything is sent), `true` to generate one
   * for any method, or `false` to send none. By default POST and PATCH get a generated key, and
   * an `Idempotency-Key` header already in `headers` is used as the key.
   */
  idempotencyKey?: string | boolean;
  /** A value sent as a JSON body, with `Content-Type: application/json` unless one is set. */
  json?: unknown;
  /** Overrides the client's `timeout` for this call. */
  timeout?: number | false;
  /** Overrides the client's `totalTimeout` for this call. */
  totalTimeout?: number | false;
  /** Overrides the client's retry rules for this call. */
  retry?: RetryInput;
  /** Overrides the client's `throwHttpErrors` for this call. */
  throwHttpErrors?: boolean;
}

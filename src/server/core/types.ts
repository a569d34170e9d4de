import type { HeaderSource } from './stored-headers.ts';

/**
 * A response as the engine hands it to an adapter to send: a problem or a replay. Header names
 * are in lower case; a name may repeat (send each pair, in order).
 */
export interface PlainResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** What a handler answered, as an adapter reports it to {@link Claim.complete}. */
export interface HandlerResponse {
  status: number;
  /** The final headers sent: a `Headers`, pairs, or Node's `res.getHeaders()` object. */
  headers: HeaderSource;
  /** The body bytes as sent; chunks are joined. */
  body: Uint8Array | string | readonly (Uint8Array | string)[];
}

/** Where the request body comes from: bytes, text, or a function that reads it when needed. */
export type BodySource =
  | Uint8Array
  | string
  | undefined
  | (() => Uint8Array | string | undefined | Promise<Uint8Array | string | undefined>);

/** What the engine needs to know of a request (see {@link Engine.begin}). */
export interface BeginInput<Req> {
  /** The HTTP method, any case. */
  method: string;
  /** Path and query as received (`/charges?expand=customer`), without scheme and host. */
  path: string;
  /**
   * Reads a request header by its lower-case name: `idempotency-key` and `content-type` are read.
   * Return an array when the header came several times (Node's `req.headers` does that for some).
   */
  header(name: string): string | readonly string[] | null | undefined;
  /**
   * The raw request body. A function is called only when a fingerprint is needed (not for GET, nor
   * for a request that carries no key where none is required), so a bypassed request is not read.
   */
  body?: BodySource;
  /** The body already parsed as JSON by the framework (Express `express.json()`), if it was. */
  json?: unknown;
  /** The framework's own request, handed to the `scope` option. */
  request: Req;
}

/** The handler's view of a guarded request (second argument of the wrapped handler). */
export interface IdempotencyContext<Tx = unknown> {
  /** The request's key, or `undefined` when the request was not guarded (GET, no key). */
  key: string | undefined;
  /** The scope the key lives in, or `undefined` when the request was not guarded. */
  scope: string | undefined;
  /** The store's transaction, in transactional mode only: write through it to commit with the key. */
  tx: Tx | undefined;
}

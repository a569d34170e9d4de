import { captureResponse, NULL_BODY_STATUSES } from './capture-response.ts';
import type { Claim } from './claim.ts';
import { createEngine, type Decision } from './engine.ts';
import { RELEASE_REASONS } from './events.ts';
import type { CoreOptions } from './options.ts';
import { RequestBodyTooLargeError } from './request-body-too-large-error.ts';
import { joinBody } from './runtime.ts';
import { requestLimit } from './settings.ts';
import type { Transaction, TransactResult } from './transaction.ts';
import type { IdempotencyContext, PlainResponse } from './types.ts';

/** A handler the helper guards: a web-standard one, with the key's context as second argument. */
export type IdempotentHandler<Tx = unknown> = (
  request: Request,
  context: IdempotencyContext<Tx>,
) => Response | Promise<Response>;

/** Options of {@link idempotency}: the {@link CoreOptions}, with `scope` reading a web `Request`. */
export interface IdempotencyOptions extends CoreOptions<Request> {
  /**
   * Largest request body read for the fingerprint, in bytes. A larger one is answered 413 Content
   * Too Large (an `application/problem+json`) before the handler runs and before the key is
   * claimed: refused from its `Content-Length` without reading it, or, sent without one, once the
   * bytes read pass the limit.
   * @default 1_048_576 (1 MiB)
   * @example
   * ```ts
   * idempotency({ store, scope, maxRequestBytes: 64 * 1024 }) // JSON payloads of at most 64 KiB
   * ```
   */
  maxRequestBytes?: number;
}

const UNGUARDED: IdempotencyContext<never> = Object.freeze({
  key: undefined,
  scope: undefined,
  tx: undefined,
});
const EMPTY = new Uint8Array(0);

/**
 * Guards a web-standard handler `(request) => Response` with an Idempotency-Key: for one key the
 * handler runs once, and retries get its stored response back, byte for byte, with
 * `Idempotent-Replayed: true`. Keys are validated, concurrent duplicates get a 409, a key reused
 * for another request a 422 (the IETF Idempotency-Key draft, §2.7). Runs on any runtime with
 * `Request`/`Response` (Hono, Node's fetch servers, Bun, Deno).
 *
 * @example
 * ```ts
 * import { redisStore } from 'oncely/server/redis';
 *
 * const guarded = idempotency({
 *   store: redisStore(client),
 *   scope: (request) => accountOf(request), // the account your authentication verified
 * })(async (request) => Response.json(await createCharge(await request.json()), { status: 201 }));
 * ```
 */
export function idempotency<Tx = unknown>(
  options: IdempotencyOptions = {},
): (handler: IdempotentHandler<Tx>) => (request: Request) => Promise<Response> {
  const engine = createEngine<Request>(options);
  const limit = requestLimit(options.maxRequestBytes);
  return (handler) =>
    async function idempotent(request: Request): Promise<Response> {
      let bytes: Uint8Array | undefined;
      let decision: Decision;
      try {
        decision = await engine.begin({
          method: request.method,
          path: pathOf(request.url),
          header: (name) => request.headers.get(name),
          body: async () => {
            bytes = await readLimited(request, limit);
            return bytes;
          },
          request,
        });
      } catch (error) {
        // Not claimed yet: the key stays free for a retry with a smaller body.
        if (error instanceof RequestBodyTooLargeError) return tooLarge(error.message);
        throw error;
      }
      switch (decision.kind) {
        case 'bypass':
          return handler(request, UNGUARDED);
        case 'respond':
          return toResponse(decision.response);
        case 'proceed':
          return run(decision.claim, handler, rebuilt(request, bytes));
        case 'transact':
          return transact(decision.transaction, handler, rebuilt(request, bytes));
      }
    };
}

/**
 * The request body, refused past `limit` bytes without reading more than that from a client.
 * With a Content-Length (and no Transfer-Encoding, which overrides it: RFC 9112 §6.3) the server
 * frames the body to that length, so it is checked before reading, and a body within it read with
 * arrayBuffer(): servers such as @hono/node-server then read the socket directly, without
 * building a web stream (measured: half the helper's cost). Without one (chunked, HTTP/2, a
 * Request built in process), the stream is read until it passes the limit, then cancelled.
 */
export async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const length = request.headers.get('content-length');
  if (length !== null && /^\d+$/.test(length) && !request.headers.has('transfer-encoding')) {
    if (Number(length) > limit) throw new RequestBodyTooLargeError(limit);
    const bytes = new Uint8Array(await request.arrayBuffer());
    // A Request built in process may carry a Content-Length smaller than its body.
    if (bytes.byteLength > limit) throw new RequestBodyTooLargeError(limit);
    return bytes;
  }
  const body = request.body;
  if (body === null) return EMPTY;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > limit) {
      // Not awaited: the 413 need not wait for the source to wind down.
      reader.cancel().catch(() => {});
      throw new RequestBodyTooLargeError(limit);
    }
    chunks.push(read.value);
  }
  return joinBody(chunks);
}

/** 413 Content Too Large (RFC 9110 §15.5.14) as a problem; the Hono adapter answers with it too. */
export function tooLarge(detail: string): Response {
  const problem = { type: 'about:blank', title: 'Content Too Large', status: 413, detail };
  return new Response(JSON.stringify(problem), {
    status: 413,
    headers: { 'content-type': 'application/problem+json' },
  });
}

async function run<Tx>(
  claim: Claim,
  handler: IdempotentHandler<Tx>,
  request: Request,
): Promise<Response> {
  // Everything up to the capture, reading the handler's answer included: a handler that returns
  // no Response, or one whose body getter throws, must free the key too, not leave it held.
  try {
    const response = await handler(request, { key: claim.key, scope: claim.scope, tx: undefined });
    const { status, headers } = response;
    // Not stored anyway (401, 5xx…), or nothing to capture: settle without touching the body.
    if (!claim.willStore(status) || response.body === null) {
      await claim.complete({ status, headers, body: EMPTY });
      return response;
    }
    return await captureResponse(claim, response);
  } catch (error) {
    await claim.release(RELEASE_REASONS.threw);
    throw error;
  }
}

/** What a transactional handler answered, read whole, and the Response itself. */
interface Answer {
  status: number;
  statusText: string;
  headers: Headers;
  body: Uint8Array;
  response: Response;
}

async function transact<Tx>(
  transaction: Transaction,
  handler: IdempotentHandler<Tx>,
  request: Request,
): Promise<Response> {
  const { key, scope } = transaction;
  const result: TransactResult<Answer> = await transaction.run(async (tx: Tx) => {
    const response = await handler(request, { key, scope, tx });
    // Read inside the transaction: the body is stored in the same commit as the handler's writes.
    const body = response.body === null ? EMPTY : new Uint8Array(await response.arrayBuffer());
    const answer: Answer = {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      body,
      response,
    };
    return answer;
  });
  if (result.kind === 'respond') return toResponse(result.response);
  // A network error (Response.error(), status 0) is rolled back by the transaction (see
  // notStoredReason) and sent on as it is: no Response can be built with its status.
  if (result.response.response.type === 'error') return result.response.response;
  const { status, statusText, headers } = result.response;
  return new Response(NULL_BODY_STATUSES.has(status) ? null : (result.body as BodyInit), {
    status,
    statusText,
    headers,
  });
}

/** A web `Response` from a plain one (a problem or a replay). */
export function toResponse(plain: PlainResponse): Response {
  const headers = new Headers();
  for (const [name, value] of plain.headers) headers.append(name, value);
  return new Response(replayBody(plain), { status: plain.status, headers });
}

/**
 * The body a Response for `plain` is built with: none for a status that cannot carry one, and
 * none for an empty one, which some servers (@hono/node-server) would give a Content-Type.
 */
export function replayBody(plain: PlainResponse): BodyInit | null {
  return NULL_BODY_STATUSES.has(plain.status) || plain.body.byteLength === 0
    ? null
    : (plain.body as BodyInit);
}

// The handler gets a request whose body it can still read: the helper read the original's. Built
// from url, method, headers and signal rather than `new Request(request, …)`, which makes servers
// such as @hono/node-server build the original in full first (a second web Request per call).
function rebuilt(request: Request, bytes: Uint8Array | undefined): Request {
  if (bytes === undefined) return request;
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body: bytes as BodyInit,
    signal: request.signal,
  });
}

/** Path and query of an absolute URL, without parsing it whole. */
export function pathOf(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme === -1) return url;
  const slash = url.indexOf('/', scheme + 3);
  if (slash === -1) {
    const query = url.indexOf('?', scheme + 3);
    return query === -1 ? '/' : `/${url.slice(query)}`;
  }
  const hash = url.indexOf('#', slash);
  return hash === -1 ? url.slice(slash) : url.slice(slash, hash);
}

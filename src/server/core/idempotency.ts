import { captureResponse, NULL_BODY_STATUSES } from './capture-response.ts';
import type { Claim } from './claim.ts';
import { createEngine } from './engine.ts';
import { RELEASE_REASONS } from './events.ts';
import type { CoreOptions } from './options.ts';
import type { Transaction } from './transaction.ts';
import type { IdempotencyContext, PlainResponse } from './types.ts';

/** A handler the helper guards: a web-standard one, with the key's context as second argument. */
export type IdempotentHandler<Tx = unknown> = (
  request: Request,
  context: IdempotencyContext<Tx>,
) => Response | Promise<Response>;

/** Options of {@link idempotency}: the {@link CoreOptions}, with `scope` reading a web `Request`. */
export type IdempotencyOptions = CoreOptions<Request>;

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
 * const guarded = idempotency({
 *   store: redisStore(client),
 *   scope: (request) => request.headers.get('x-api-key') ?? 'anonymous',
 * })(async (request) => Response.json(await createCharge(await request.json()), { status: 201 }));
 * ```
 */
export function idempotency<Tx = unknown>(
  options: IdempotencyOptions = {},
): (handler: IdempotentHandler<Tx>) => (request: Request) => Promise<Response> {
  const engine = createEngine<Request>(options);
  return (handler) =>
    async function idempotent(request: Request): Promise<Response> {
      let bytes: Uint8Array | undefined;
      const decision = await engine.begin({
        method: request.method,
        path: pathOf(request.url),
        header: (name) => request.headers.get(name),
        // arrayBuffer() and not `body`: servers such as @hono/node-server read the socket
        // directly then, without building a web stream (measured: half the helper's cost).
        body: async () => {
          bytes = new Uint8Array(await request.arrayBuffer());
          return bytes;
        },
        request,
      });
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

async function transact<Tx>(
  transaction: Transaction,
  handler: IdempotentHandler<Tx>,
  request: Request,
): Promise<Response> {
  const { key, scope } = transaction;
  const result = await transaction.run(async (tx: Tx) => {
    const response = await handler(request, { key, scope, tx });
    // Read inside the transaction: the body is stored in the same commit as the handler's writes.
    const body = response.body === null ? EMPTY : new Uint8Array(await response.arrayBuffer());
    return {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      body,
    };
  });
  if (result.kind === 'respond') return toResponse(result.response);
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
  // No body for an empty one: some servers give an empty byte body a Content-Type.
  const body =
    NULL_BODY_STATUSES.has(plain.status) || plain.body.byteLength === 0 ? null : plain.body;
  return new Response(body as BodyInit | null, { status: plain.status, headers });
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

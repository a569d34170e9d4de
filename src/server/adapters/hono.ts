/** `oncely/server/hono`: the idempotency helper as Hono 4 middleware. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { captureResponse, NULL_BODY_STATUSES } from '../core/capture-response.ts';
import type { Claim } from '../core/claim.ts';
import { createEngine, type Decision } from '../core/engine.ts';
import { RELEASE_REASONS } from '../core/events.ts';
import { pathOf, readLimited, replayBody, tooLarge, toResponse } from '../core/idempotency.ts';
import type { CoreOptions } from '../core/options.ts';
import { RequestBodyTooLargeError } from '../core/request-body-too-large-error.ts';
import { joinBody } from '../core/runtime.ts';
import { requestLimit } from '../core/settings.ts';
import type { IdempotencyContext, PlainResponse } from '../core/types.ts';
import { readBody } from './node-body.ts';
import { captureResponse as captureNodeResponse } from './node-capture.ts';
import { singleWriteBody } from './single-write.ts';

/** Options of the Hono middleware: the core options, with `scope` reading Hono's context. */
export interface HonoIdempotencyOptions extends CoreOptions<Context> {
  /**
   * The largest request body read for the fingerprint; a larger one is answered 413 (a
   * `RequestBodyTooLargeError` as a problem) before the handler runs, and the key is not claimed.
   * @default 1_048_576 (1 MiB)
   */
  maxRequestBytes?: number;
}

/** The variables the middleware sets: `c.get('oncely')` in a guarded handler. */
export interface IdempotencyEnv<Tx = unknown> {
  Variables: { oncely: IdempotencyContext<Tx> };
}

const EMPTY = new Uint8Array(0);

/**
 * Hono middleware that guards the routes after it with an Idempotency-Key: for one key the
 * handler runs once, and retries get its response back byte for byte with
 * `Idempotent-Replayed: true`. The handler finds the key's context in `c.get('oncely')` (with
 * `tx` in transactional mode); it is unset when the request is not guarded.
 *
 * Body: read once, up to `maxRequestBytes`, and left where Hono looks first (its body cache, or on
 * @hono/node-server the request's `rawBody`), so the handler's `c.req.json()` still works.
 * Response: captured, not cloned (the core's `captureResponse`): a body that is all there is read
 * once and sent from bytes, a body still being produced is streamed while a copy is kept.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { idempotency } from 'oncely/server/hono';
 *
 * const app = new Hono();
 * app.post('/charges', idempotency({ store, scope: (c) => accountOf(c) }), // the verified account
 *   async (c) => c.json(await createCharge(await c.req.json()), 201));
 * ```
 */
export function idempotency<Tx = unknown>(
  options: HonoIdempotencyOptions = {},
): MiddlewareHandler<IdempotencyEnv<Tx>> {
  const engine = createEngine<Context>(options);
  const limit = requestLimit(options.maxRequestBytes);
  return async function idempotencyMiddleware(c, next) {
    const node = nodeBindings(c.env);
    let decision: Decision;
    try {
      decision = await engine.begin({
        method: c.req.method,
        path: pathOf(c.req.url),
        // Node's parsed headers cost nothing more; c.req.header() would build a web Headers.
        header:
          node === undefined ? (name) => c.req.header(name) : (name) => node.incoming.headers[name],
        body: () =>
          node === undefined ? readWebBody(c, limit) : readNodeBody(c, node.incoming, limit),
        request: c,
      });
    } catch (error) {
      // Hono's default error handler would answer 500; the client sent too much.
      if (error instanceof RequestBodyTooLargeError) return tooLarge(error.message);
      throw error;
    }
    switch (decision.kind) {
      case 'bypass':
        return next();
      case 'respond':
        return node === undefined
          ? toResponse(decision.response)
          : toNodeResponse(decision.response);
      case 'proceed': {
        const claim = decision.claim;
        c.set('oncely', { key: claim.key, scope: claim.scope, tx: undefined });
        // On @hono/node-server, capture what reaches Node's response, as the Express adapter
        // does: the web Response is then never materialised or read (it stays on the server's
        // fast path for string and byte bodies).
        if (node !== undefined) captureNodeResponse(node.outgoing, claim, engine.settings.leaseMs);
        await next();
        if (c.error !== undefined) {
          await claim.release(RELEASE_REASONS.threw);
          return;
        }
        if (node !== undefined) {
          // The client went away: @hono/node-server will not write the response, so store it
          // from here (a retry must get it rather than run the handler again).
          if (node.outgoing.destroyed && !claim.settled)
            replace(c, await completeFrom(claim, c.res, engine.settings.leaseMs));
          return;
        }
        const res = c.res;
        const { status, headers } = res;
        if (!claim.willStore(status) || res.body === null) {
          await claim.complete({ status, headers, body: EMPTY });
          return;
        }
        replace(c, await captureResponse(claim, res));
        return;
      }
      case 'transact': {
        const transaction = decision.transaction;
        let thrown = false;
        let result: Awaited<ReturnType<typeof transaction.run<Tx, Held>>>;
        try {
          result = await transaction.run<Tx, Held>(async (tx) => {
            c.set('oncely', { key: transaction.key, scope: transaction.scope, tx });
            await next();
            // Roll the handler's writes back; Hono's error response stays in c.res.
            if (c.error !== undefined) {
              thrown = true;
              throw c.error;
            }
            const res = c.res;
            const body = res.body === null ? EMPTY : new Uint8Array(await res.arrayBuffer());
            return { status: res.status, headers: res.headers, body, res };
          });
        } catch (error) {
          if (thrown) return;
          throw error;
        }
        if (result.kind === 'respond') {
          replace(c, toResponse(result.response));
          return;
        }
        const { res } = result.response;
        const body = NULL_BODY_STATUSES.has(res.status) ? null : (result.body as BodyInit);
        replace(c, new Response(body, res));
        return;
      }
    }
  };
}

/**
 * A problem or replay for @hono/node-server: headers as a plain object, which it writes to Node
 * as they are (a `Headers` it converts first). Repeated names need `Headers` to stay apart.
 */
function toNodeResponse(plain: PlainResponse): Response {
  const headers: Record<string, string> = {};
  for (const [name, value] of plain.headers) {
    if (name in headers) return toResponse(plain);
    headers[name] = value;
  }
  const body = replayBody(plain);
  // Text goes out in one write with the head (see singleWriteBody). Only with a Content-Type: a
  // Response that a later middleware makes real would give a string body one of its own.
  const payload = body !== null && 'content-type' in headers ? singleWriteBody(plain.body) : body;
  return new Response(payload as BodyInit | null, { status: plain.status, headers });
}

/**
 * Stores `res` as read whole; returns it rebuilt from its bytes (its body is consumed). A body
 * that does not end within `graceMs` (a stream with no end, such as server-sent events) is
 * cancelled and the key released: nobody is there to read it, and the claim must not be held
 * and renewed for as long as the stream would run.
 */
async function completeFrom(claim: Claim, res: Response, graceMs: number): Promise<Response> {
  const { status, headers } = res;
  if (!claim.willStore(status) || res.body === null) {
    await claim.complete({ status, headers, body: EMPTY });
    return res;
  }
  const body = await readWithin(res.body, graceMs);
  if (body === undefined) {
    await claim.release(RELEASE_REASONS.aborted, status);
    return new Response(null, { status });
  }
  await claim.complete({ status, headers, body });
  return new Response(NULL_BODY_STATUSES.has(status) ? null : (body as BodyInit), res);
}

/** The whole body, or undefined when it did not end within `ms` (it is then cancelled). */
async function readWithin(
  body: ReadableStream<Uint8Array>,
  ms: number,
): Promise<Uint8Array | undefined> {
  const reader = body.getReader();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    reader.cancel().catch(() => {});
  }, ms);
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (late) return undefined;
      if (done) return joinBody(chunks);
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** @hono/node-server's bindings in `c.env`, when the app is served by it over HTTP/1. */
interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

function nodeBindings(env: unknown): NodeBindings | undefined {
  if (typeof env !== 'object' || env === null) return undefined;
  const { incoming, outgoing } = env as Partial<NodeBindings>;
  if (incoming?.httpVersionMajor !== 1 || typeof outgoing?.getHeaders !== 'function') {
    return undefined;
  }
  return env as NodeBindings;
}

/**
 * The body, read at most `limit` bytes into (see the core's `readLimited`), and left in Hono's
 * body cache, where the handler's `c.req.json()`, `c.req.text()` or `c.req.arrayBuffer()` find it.
 * A body an earlier middleware read is taken from that cache: its bytes are already in memory.
 */
async function readWebBody(c: Context, limit: number): Promise<Uint8Array | undefined> {
  for (const _ in c.req.bodyCache) return checked(new Uint8Array(await c.req.arrayBuffer()), limit);
  if (c.req.raw.body === null) return undefined;
  const bytes = await readLimited(c.req.raw, limit);
  const whole =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? (bytes.buffer as ArrayBuffer)
      : (bytes.slice().buffer as ArrayBuffer);
  // Hono types the cache by its values; it holds promises of them (HonoRequest's #cachedBody).
  (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(whole);
  return bytes;
}

function checked(bytes: Uint8Array, limit: number): Uint8Array {
  if (bytes.byteLength > limit) throw new RequestBodyTooLargeError(limit);
  return bytes;
}

/**
 * Reads the body from Node's request and leaves it as `incoming.rawBody`, where @hono/node-server
 * looks first (as on Google Cloud Functions): the handler's `c.req.json()`, `c.req.text()` or
 * `c.req.raw` read those bytes, without a second read of the stream.
 */
function readNodeBody(
  c: Context,
  incoming: IncomingMessage & { rawBody?: unknown },
  limit: number,
): Uint8Array | Promise<Uint8Array | undefined> {
  if (incoming.rawBody instanceof Uint8Array) return incoming.rawBody;
  // Read already by an earlier middleware, or being read: go through Hono's cache.
  for (const _ in c.req.bodyCache) return readWebBody(c, limit);
  if (incoming.readableDidRead || incoming.readableFlowing !== null) return readWebBody(c, limit);
  // Not given back to the stream: @hono/node-server reads rawBody first, and would otherwise
  // drain the unread stream after the response. A .then, not an async function: one promise
  // fewer on every guarded request.
  return readBody(incoming, limit, false).then((bytes) => {
    if (bytes !== undefined) incoming.rawBody = bytes;
    return bytes;
  });
}

interface Held {
  status: number;
  headers: Headers;
  body: Uint8Array;
  res: Response;
}

// Hono merges the previous response's headers into one assigned over it, at the cost of another
// Response; ours carries them all already.
function replace(c: Context, response: Response): void {
  c.res = undefined;
  c.res = response;
}

export type { IdempotencyContext } from '../core/types.ts';
export { RequestAbortedError } from './request-aborted-error.ts';
export { RequestBodyTooLargeError };

/** `oncely/server/fastify`: the idempotency helper as a Fastify 5 plugin or route hooks. */
import type { OutgoingHttpHeaders } from 'node:http';
import { pipeline, Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Claim } from '../core/claim.ts';
import { createEngine, type Engine } from '../core/engine.ts';
import { RELEASE_REASONS } from '../core/events.ts';
import { isJsonContentType } from '../core/fingerprint.ts';
import { isPromise } from '../core/is-promise.ts';
import type { CoreOptions } from '../core/options.ts';
import type { TransactResult } from '../core/transaction.ts';
import type { HandlerResponse, IdempotencyContext, PlainResponse } from '../core/types.ts';
import { adoptHeaders, sendPlain as sendNode } from './node-send.ts';
import { RequestAbortedError } from './request-aborted-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The Idempotency-Key context of a guarded request (`tx` in transactional mode); `undefined`
     * when the request is not guarded (GET, or no key where none is required).
     */
    oncely?: IdempotencyContext;
  }
}

/** Options of the Fastify plugin and hooks: the core options, with `scope` reading Fastify's request. */
export type FastifyIdempotencyOptions = CoreOptions<FastifyRequest>;

/** The hooks that guard a route; spread them into the route's options. */
export interface IdempotencyHooks {
  preHandler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  onSend: (request: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown>;
  onError: (request: FastifyRequest, reply: FastifyReply, error: Error) => Promise<void>;
  onResponse: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

const STATE = Symbol('oncely');
const EMPTY = new Uint8Array(0);
const NO_HEADERS: [string, string][] = [];

interface Held {
  claim: Claim;
}
interface Transacting {
  answer(response: HandlerResponse): void;
  fail(error: unknown): void;
  outcome: Promise<TransactResult<HandlerResponse>>;
  threw?: unknown;
}
type State = Held | Transacting;
type WithState = FastifyRequest & { [STATE]?: State };

/**
 * Route hooks guarding a Fastify route with an Idempotency-Key: `preHandler` decides (a problem
 * or a replay is sent there and the handler skipped), `onSend` captures the payload the handler
 * sent (string, Buffer or stream, passed through while captured) and stores it before it goes
 * out, `onError` releases the key when the handler throws.
 *
 * Body: Fastify has parsed it before `preHandler`; the parsed body is fingerprinted (a JSON
 * object canonically, a string or Buffer by its bytes), so no second read of the stream is needed.
 *
 * @example
 * ```ts
 * import { idempotencyHooks } from 'oncely/server/fastify';
 *
 * app.post('/charges', { ...idempotencyHooks({ store, scope: (req) => accountOf(req) }) }, // verified account
 *   async (request, reply) => reply.code(201).send(await createCharge(request.body)));
 * ```
 */
export function idempotencyHooks(options: FastifyIdempotencyOptions = {}): IdempotencyHooks {
  return hooksOf(createEngine<FastifyRequest>(options));
}

/**
 * A Fastify plugin guarding every route of the instance (or encapsulated context) it is
 * registered in; safe methods and keyless requests where none is required pass untouched. It
 * is not encapsulated itself (`skip-override`, as `fastify-plugin` would do), so routes declared
 * next to its registration are guarded.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { idempotency } from 'oncely/server/fastify';
 *
 * const app = Fastify();
 * await app.register(idempotency({ store, scope: (req) => accountOf(req) })); // the verified account
 * app.post('/charges', async (request, reply) => reply.code(201).send(await createCharge(request.body)));
 * ```
 */
export function idempotency(
  options: FastifyIdempotencyOptions = {},
): (instance: FastifyInstance) => Promise<void> {
  const hooks = idempotencyHooks(options);
  const plugin = async function oncelyIdempotency(instance: FastifyInstance): Promise<void> {
    if (!instance.hasRequestDecorator('oncely')) instance.decorateRequest('oncely', undefined);
    instance.addHook('preHandler', hooks.preHandler);
    instance.addHook('onSend', hooks.onSend);
    instance.addHook('onError', hooks.onError);
    instance.addHook('onResponse', hooks.onResponse);
  };
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: 'oncely' });
  return plugin;
}

function hooksOf(engine: Engine<FastifyRequest>): IdempotencyHooks {
  return {
    async preHandler(request, reply) {
      const parsed: unknown = request.body;
      // A string is the text of a text body, or the value of a JSON body that is a string
      // (`"5"`): as bytes that would be re-read as JSON, and match the body `5`.
      const raw =
        parsed instanceof Uint8Array ||
        (typeof parsed === 'string' && !isJsonContentType(contentTypeOf(request)));
      const decision = await engine.begin({
        method: request.method,
        path: request.url,
        header: (name) => request.headers[name],
        body: raw ? parsed : undefined,
        json: raw ? undefined : parsed,
        request,
      });
      switch (decision.kind) {
        case 'bypass':
          return;
        case 'respond':
          if (decision.replayed) return replay(reply, decision.response);
          return sendPlain(reply, decision.response);
        case 'proceed': {
          const claim = decision.claim;
          (request as WithState)[STATE] = { claim };
          request.oncely = { key: claim.key, scope: claim.scope, tx: undefined };
          return;
        }
        case 'transact': {
          const transaction = decision.transaction;
          let started!: () => void;
          const ready = new Promise<undefined>((resolve) => {
            started = () => resolve(undefined);
          });
          const state = {} as Transacting;
          const answered = new Promise<HandlerResponse>((resolve, reject) => {
            state.answer = resolve;
            state.fail = reject;
          });
          state.outcome = transaction.run(async (tx) => {
            request.oncely = { key: transaction.key, scope: transaction.scope, tx };
            started();
            return answered;
          });
          (request as WithState)[STATE] = state;
          // The handler runs once the transaction is open; a replay or problem skips it.
          const early = await Promise.race([ready, state.outcome]);
          if (early !== undefined && early.kind === 'respond') {
            (request as WithState)[STATE] = undefined;
            return sendPlain(reply, early.response);
          }
          return;
        }
      }
    },

    async onSend(request, reply, payload) {
      const state = (request as WithState)[STATE];
      if (state === undefined) return payload;
      (request as WithState)[STATE] = undefined;
      if ('claim' in state) return capture(state.claim, reply, payload);
      if (state.threw !== undefined) {
        state.fail(state.threw);
        await state.outcome.catch(() => {});
        return payload;
      }
      const body = await bytesOf(payload);
      state.answer({ status: reply.statusCode, headers: reply.getHeaders(), body });
      const result = await state.outcome;
      if (result.kind === 'ran') return toBuffer(body);
      // A replay, a conflict, or the commit failed: that answer replaces the handler's.
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
      reply.code(result.response.status);
      setHeaders(reply, result.response);
      return toBuffer(result.response.body);
    },

    async onError(request, _reply, error) {
      const state = (request as WithState)[STATE];
      if (state === undefined) return;
      if ('claim' in state) {
        (request as WithState)[STATE] = undefined;
        await state.claim.release(RELEASE_REASONS.threw);
      } else {
        // Rolled back in onSend, once the error response is known.
        state.threw = error;
      }
    },

    async onResponse(request) {
      const state = (request as WithState)[STATE];
      if (state === undefined) return;
      (request as WithState)[STATE] = undefined;
      // onSend never ran (hijacked reply, connection lost): nothing was stored.
      if ('claim' in state) await state.claim.release(RELEASE_REASONS.aborted);
      else {
        state.fail(new RequestAbortedError());
        await state.outcome.catch(() => {});
      }
    },
  };
}

async function capture(claim: Claim, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const status = reply.statusCode;
  if (!claim.willStore(status) || payload === null || payload === undefined) {
    await claim.complete({ status, headers: reply.getHeaders(), body: EMPTY });
    return payload;
  }
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    await claim.complete({ status, headers: reply.getHeaders(), body: payload });
    return payload;
  }
  // pipeline, not pipe: an error of the handler's stream reaches the stream Fastify sends (which
  // then ends the reply as bare Fastify does), and destroying it releases the key.
  // Status and headers as they are now: an onSend hook after this one (a compression plugin) may
  // change them for this response (Content-Encoding: gzip) by the time the stream ends, and the
  // copy kept is the payload as it is here, not as that hook sends it.
  if (isNodeStream(payload)) {
    const head = { status, headers: reply.getHeaders() };
    return pipeline(payload, captureTransform(claim, head), () => {});
  }
  // A web ReadableStream or Response payload: sent as is, not stored.
  await claim.release(RELEASE_REASONS.aborted, status);
  return payload;
}

/** A pass-through stream that keeps a copy and stores it when the stream ends. */
function captureTransform(
  claim: Claim,
  head: { status: number; headers: ReturnType<FastifyReply['getHeaders']> },
): Transform {
  let chunks: Buffer[] | undefined = [];
  let size = 0;
  const limit = claim.maxBodyBytes;
  return new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (chunks !== undefined) {
        size += bytes.byteLength;
        if (size > limit) {
          chunks = undefined;
          void claim.release(RELEASE_REASONS.tooLarge, head.status);
        } else {
          chunks.push(bytes);
        }
      }
      callback(null, bytes);
    },
    flush(callback) {
      if (chunks === undefined) return callback();
      const stored = claim.complete({ status: head.status, headers: head.headers, body: chunks });
      if (isPromise(stored)) void stored.then(() => callback());
      else callback();
    },
    destroy(error, callback) {
      if (!claim.settled) void claim.release(RELEASE_REASONS.aborted, head.status);
      callback(error);
    },
  });
}

/**
 * Sends a stored response as it was stored, past the onSend hooks: the copy was taken in this
 * adapter's onSend, after every onSend hook that runs before it (the instance's hooks run before
 * a route's, plugins' in the order they were registered). Sent with `reply.send`, a replay went
 * through those hooks a second time: a hook that wraps the payload wrapped the stored, wrapped,
 * body again. Headers set on the reply before (CORS, a request id) are kept, as on any answer.
 */
function replay(reply: FastifyReply, plain: PlainResponse): FastifyReply {
  const before = reply.getHeaders();
  reply.hijack();
  // Node's own header map, typed more narrowly by @types/node for a few names (`accept`).
  adoptHeaders(reply.raw, before as OutgoingHttpHeaders);
  sendNode(reply.raw, plain);
  return reply;
}

function sendPlain(reply: FastifyReply, plain: PlainResponse): FastifyReply {
  reply.code(plain.status);
  setHeaders(reply, plain);
  // No payload for an empty body: Fastify would give an empty Buffer a Content-Type of its own.
  return plain.body.byteLength === 0 ? reply.send() : reply.send(toBuffer(plain.body));
}

function setHeaders(reply: FastifyReply, plain: PlainResponse): void {
  const headers = plain.headers.length === 0 ? NO_HEADERS : plain.headers;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i] as [string, string];
    const first = headers.findIndex((pair) => pair[0] === name);
    if (first === i) {
      // Fastify replaces a header set twice (but Set-Cookie): repeated names go as one array.
      const values = headers.filter((pair) => pair[0] === name).map((pair) => pair[1]);
      reply.header(name, values.length === 1 ? value : values);
    }
  }
}

function contentTypeOf(request: FastifyRequest): string | undefined {
  const value: unknown = request.headers['content-type'];
  return typeof value === 'string' ? value : undefined;
}

function toBuffer(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

async function bytesOf(payload: unknown): Promise<Uint8Array> {
  if (payload === null || payload === undefined) return EMPTY;
  if (typeof payload === 'string') return Buffer.from(payload);
  if (payload instanceof Uint8Array) return payload;
  if (isNodeStream(payload) || isAsyncIterable(payload)) {
    const chunks: Buffer[] = [];
    for await (const chunk of payload as AsyncIterable<Buffer | string>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
    return Buffer.concat(chunks);
  }
  if (payload instanceof Response) return new Uint8Array(await payload.arrayBuffer());
  return EMPTY;
}

function isNodeStream(value: unknown): value is NodeJS.ReadableStream {
  return typeof (value as { pipe?: unknown }).pipe === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

export type { IdempotencyContext } from '../core/types.ts';
export { RequestAbortedError } from './request-aborted-error.ts';

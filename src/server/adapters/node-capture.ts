import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Claim } from '../core/claim.ts';
import { RELEASE_REASONS } from '../core/events.ts';
import { isPromise } from '../core/is-promise.ts';
import { adoptHeaders, clearHeaders } from './node-send.ts';
import { RequestAbortedError } from './request-aborted-error.ts';

type Chunk = Uint8Array | string;
type Callback = (error?: Error | null) => void;
type HeadersArg = OutgoingHttpHeaders | readonly (string | readonly string[])[] | undefined;

const NOTHING: readonly Chunk[] = [];

const CAPTURE = Symbol('oncely.capture');
type Captured = ServerResponse & { [CAPTURE]: Capture };

/** One response's capture. The wrappers below are shared, not made per request (issue 4's cost). */
class Capture {
  readonly claim: Claim;
  readonly graceMs: number;
  readonly limit: number;
  readonly write: ServerResponse['write'];
  readonly end: ServerResponse['end'];
  readonly writeHead: (status: number, message?: unknown, headers?: unknown) => ServerResponse;
  chunks: Chunk[] | undefined = [];
  size = 0;
  ending = false;
  // The connection closed after the response had begun to go out: a streamed body is then most
  // likely cut short (frameworks cancel the source on close), so it is not stored.
  cut = false;
  // Headers given to writeHead as an object: Node sends them without keeping them when no header
  // was set before, so they are kept here (cheaper than setHeader for each).
  given: OutgoingHttpHeaders | undefined;

  constructor(res: ServerResponse, claim: Claim, graceMs: number) {
    this.claim = claim;
    this.graceMs = graceMs;
    this.limit = claim.maxBodyBytes;
    this.write = res.write;
    this.end = res.end;
    this.writeHead = res.writeHead as Capture['writeHead'];
  }

  keep(res: ServerResponse, chunk: unknown, encoding: unknown): void {
    const chunks = this.chunks;
    if (chunks === undefined || chunk === undefined || chunk === null) return;
    let bytes: Chunk;
    if (typeof chunk === 'string') {
      const utf8 = encoding === undefined || encoding === 'utf8' || encoding === 'utf-8';
      bytes = utf8 ? chunk : Buffer.from(chunk, encoding as BufferEncoding);
      this.size += utf8 ? Buffer.byteLength(chunk) : bytes.length;
    } else {
      // A copy: Node lets a writer reuse its buffer once the write is done (the fs.read pattern),
      // and the stored body must be what was sent.
      bytes = Buffer.from(chunk as Uint8Array);
      this.size += bytes.byteLength;
    }
    if (this.size > this.limit) {
      this.chunks = undefined;
      void this.claim.release(RELEASE_REASONS.tooLarge, res.statusCode);
      return;
    }
    chunks.push(bytes);
  }
}

/**
 * Captures what a handler writes to a Node response while it goes out: every `write` is passed on
 * at once and a copy kept (up to `claim.maxBodyBytes`; past it the copy is dropped and the key
 * released, the response still sent whole). The final `end` waits for `claim.complete`, so once a
 * client has the whole response a retry finds it stored. No copy is kept of a status that is not
 * stored (401, 5xx…). When the connection closes first, the handler still has `graceMs` (the
 * lease) to end: its response is stored then; if it never ends, the key is released.
 */
export function captureResponse(res: ServerResponse, claim: Claim, graceMs: number): void {
  const capture = new Capture(res, claim, graceMs);
  if ((res as Partial<Captured>)[CAPTURE] === undefined) {
    (res as Captured)[CAPTURE] = capture;
    res.writeHead = capturedWriteHead as ServerResponse['writeHead'];
    res.write = capturedWrite as ServerResponse['write'];
    res.end = capturedEnd as ServerResponse['end'];
    res.on('close', onCapturedClose);
    // Closed already (the client left while the claim was being decided): 'close' will not come.
    if (res.destroyed) closeWith(capture, res);
    return;
  }
  // Captured already (a second guard on the same response): the shared wrappers find the first
  // capture, so this one binds its own, which call through to the first.
  res.writeHead = function (
    this: ServerResponse,
    status: number,
    message?: unknown,
    headers?: unknown,
  ) {
    return writeHeadWith(capture, this, status, message as HeadersArg, headers as HeadersArg);
  } as ServerResponse['writeHead'];
  res.write = function (
    this: ServerResponse,
    chunk: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) {
    return writeWith(capture, this, chunk, encoding, callback);
  } as ServerResponse['write'];
  res.end = function (
    this: ServerResponse,
    chunk?: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) {
    return endWith(capture, this, chunk, encoding, callback);
  } as ServerResponse['end'];
  res.once('close', () => closeWith(capture, res));
  if (res.destroyed) closeWith(capture, res);
}

function capturedWriteHead(
  this: ServerResponse,
  status: number,
  message?: string | HeadersArg,
  headers?: HeadersArg,
): ServerResponse {
  return writeHeadWith((this as Captured)[CAPTURE], this, status, message, headers);
}

function capturedWrite(
  this: ServerResponse,
  chunk: unknown,
  encoding?: unknown,
  callback?: unknown,
): boolean {
  return writeWith((this as Captured)[CAPTURE], this, chunk, encoding, callback);
}

function capturedEnd(
  this: ServerResponse,
  chunk?: unknown,
  encoding?: unknown,
  callback?: unknown,
): ServerResponse {
  return endWith((this as Captured)[CAPTURE], this, chunk, encoding, callback);
}

function onCapturedClose(this: ServerResponse): void {
  closeWith((this as Captured)[CAPTURE], this);
}

function writeHeadWith(
  capture: Capture,
  res: ServerResponse,
  status: number,
  message?: string | HeadersArg,
  headers?: HeadersArg,
): ServerResponse {
  const withMessage = typeof message === 'string';
  const object = withMessage ? headers : message;
  if (!capture.claim.willStore(status)) capture.chunks = undefined;
  if (object !== undefined && object !== null && !Array.isArray(object)) {
    capture.given = object as OutgoingHttpHeaders;
    return withMessage
      ? capture.writeHead.call(res, status, message, object)
      : capture.writeHead.call(res, status, object);
  }
  adoptHeaders(res, object);
  return withMessage
    ? capture.writeHead.call(res, status, message)
    : capture.writeHead.call(res, status);
}

function writeWith(
  capture: Capture,
  res: ServerResponse,
  chunk: unknown,
  encoding?: unknown,
  callback?: unknown,
): boolean {
  capture.keep(res, chunk, typeof encoding === 'string' ? encoding : undefined);
  return capture.write.call(res, chunk, encoding as BufferEncoding, callback as Callback);
}

function endWith(
  capture: Capture,
  res: ServerResponse,
  chunk?: unknown,
  encoding?: unknown,
  callback?: unknown,
): ServerResponse {
  if (typeof chunk === 'function') {
    callback = chunk;
    chunk = undefined;
  } else if (typeof encoding === 'function') {
    callback = encoding;
    encoding = undefined;
  }
  if (capture.ending) {
    // A second end while the first waits for the store: Node would ignore its data too.
    if (typeof callback === 'function') res.once('finish', callback as () => void);
    return res;
  }
  capture.ending = true;
  (res as Ending)[ENDING] = true;
  capture.keep(res, chunk, encoding);
  const claim = capture.claim;
  const finish = () =>
    capture.end.call(res, chunk, encoding as BufferEncoding, callback as () => void);
  // An error handler's answer (the handler threw) and a body the client cut short are not the
  // operation's outcome: the key is released. Otherwise the response is stored.
  const settled = errorRouted(res)
    ? claim.release(RELEASE_REASONS.threw, res.statusCode)
    : capture.cut
      ? claim.release(RELEASE_REASONS.aborted, res.statusCode)
      : claim.settled
        ? undefined
        : claim.complete({
            status: res.statusCode,
            headers: headersOf(res, capture.given),
            body: capture.chunks ?? NOTHING,
          });
  // A synchronous store has answered already (or nothing was asked of it): end now, in the
  // handler's own turn, as bare Node would.
  if (!isPromise(settled)) {
    finish();
    return res;
  }
  // The end waits for the store, and meanwhile the response looks unsent: a handler that throws
  // after its end has Express's final handler set a 500 and its own headers (and its body is
  // dropped, the second end). The answer that ended, and is being stored, is what goes out.
  const head = res.headersSent ? undefined : snapshotHead(res);
  void settled.then(() => {
    if (head !== undefined && !res.headersSent) restoreHead(res, head);
    finish();
  });
  return res;
}

interface Head {
  status: number;
  message: string;
  headers: OutgoingHttpHeaders;
}

function snapshotHead(res: ServerResponse): Head {
  return { status: res.statusCode, message: res.statusMessage, headers: res.getHeaders() };
}

function restoreHead(res: ServerResponse, head: Head): void {
  res.statusCode = head.status;
  res.statusMessage = head.message;
  clearHeaders(res);
  adoptHeaders(res, head.headers);
}

// Express's router (2.3) keeps on the request, under this registered symbol, each error a handler
// threw, rejected with or passed to `next` and that no error handler has dealt with yet: a
// response ending while one is there is an error handler's (or the final handler's) answer.
// Read at the end, it costs nothing per request; the router's diagnostics channel would tell the
// same at once, but subscribing to it makes the router trace every handler call in the process.
const ROUTER_ERRORS = Symbol.for('router.tracing.publishedErrors');

function errorRouted(res: ServerResponse): boolean {
  const seen = (res.req as { [ROUTER_ERRORS]?: { size: number } } | undefined)?.[ROUTER_ERRORS];
  return seen !== undefined && seen.size > 0;
}

// Set on a response once a guarded handler has called its end: the real end may still wait for
// the store (see endWith), and Node's `writableEnded` is false until it goes out.
const ENDING = Symbol('oncely.ending');
type Ending = ServerResponse & { [ENDING]?: true };

/**
 * Whether the handler has ended the response. Node's `writableEnded` stays false while the end
 * waits for the store, and an error path that took it for unanswered would overwrite the answer
 * (or destroy the socket) that the store is about to hold.
 */
export function hasEnded(res: ServerResponse): boolean {
  return res.writableEnded || (res as Ending)[ENDING] === true;
}

function closeWith(capture: Capture, res: ServerResponse): void {
  const claim = capture.claim;
  if (capture.ending || claim.settled) return;
  if (res.headersSent) {
    // Part of the response was out: what the handler ends with may be cut short. Not stored.
    capture.cut = true;
  }
  // The client went away while the handler runs. Releasing now would let its retry run the
  // operation a second time: the handler gets `graceMs` to end, and its response is stored.
  afterGrace(capture.graceMs, () => {
    if (!capture.ending && !claim.settled)
      void claim.release(RELEASE_REASONS.aborted, res.statusCode);
  });
}

// Node merges the headers given to writeHead into its header map when one was set before, and
// sends them without keeping them otherwise: then they are the whole set.
function headersOf(
  res: ServerResponse,
  given: OutgoingHttpHeaders | undefined,
): OutgoingHttpHeaders {
  return given !== undefined && res.getHeaderNames().length === 0 ? given : res.getHeaders();
}

function afterGrace(ms: number, then: () => void): void {
  setTimeout(then, ms).unref();
}

/**
 * What {@link bufferResponse}'s `done` rejects with when the response was written by the error
 * handlers after the handler threw (Express): it is sent, but neither stored nor committed.
 */
export class ErrorHandlerAnswer extends Error {
  readonly answer: BufferedResponse;

  constructor(answer: BufferedResponse) {
    super('the handler threw; its error handler answered');
    this.answer = answer;
  }
}

/** The handler's answer as {@link bufferResponse} collected it. */
export interface BufferedResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Chunk[];
}

/**
 * Transactional mode: holds back everything the handler writes (status, headers, body) so that
 * nothing reaches the client before the transaction commits. `done` resolves at the handler's
 * `end`, and rejects with {@link RequestAbortedError} if the connection closed and the handler has
 * not ended `graceMs` later. `restore`
 * gives the response its own methods back, to send the outcome.
 */
export function bufferResponse(
  res: ServerResponse,
  graceMs: number,
): {
  done: Promise<BufferedResponse>;
  restore(): void;
} {
  const own = { write: res.write, end: res.end, writeHead: res.writeHead };
  const body: Chunk[] = [];
  const keep = (chunk: unknown, encoding: unknown) => {
    if (chunk === undefined || chunk === null) return;
    body.push(
      typeof chunk === 'string' && encoding !== undefined && encoding !== 'utf8'
        ? Buffer.from(chunk, encoding as BufferEncoding)
        : (chunk as Chunk),
    );
  };
  let ended = false;
  const done = new Promise<BufferedResponse>((resolve, reject) => {
    res.writeHead = function bufferedWriteHead(
      this: ServerResponse,
      status: number,
      message?: string | HeadersArg,
      headers?: HeadersArg,
    ): ServerResponse {
      this.statusCode = status;
      if (typeof message === 'string') {
        this.statusMessage = message;
        adoptHeaders(this, headers);
      } else {
        adoptHeaders(this, message);
      }
      return this;
    } as ServerResponse['writeHead'];
    res.write = function bufferedWrite(chunk: unknown, encoding?: unknown, callback?: unknown) {
      keep(chunk, typeof encoding === 'string' ? encoding : undefined);
      const cb = typeof encoding === 'function' ? encoding : callback;
      if (typeof cb === 'function') queueMicrotask(cb as () => void);
      return true;
    } as ServerResponse['write'];
    res.end = function bufferedEnd(
      this: ServerResponse,
      chunk?: unknown,
      encoding?: unknown,
      callback?: unknown,
    ): ServerResponse {
      if (ended) return this;
      ended = true;
      if (typeof chunk === 'function') {
        callback = chunk;
        chunk = undefined;
      } else if (typeof encoding === 'function') {
        callback = encoding;
        encoding = undefined;
      }
      keep(chunk, encoding);
      if (typeof callback === 'function') this.once('finish', callback as () => void);
      const answer = { status: this.statusCode, headers: this.getHeaders(), body };
      // An error handler's answer to a throw (Express): the transaction must roll back.
      if (errorRouted(this)) reject(new ErrorHandlerAnswer(answer));
      else resolve(answer);
      return this;
    } as ServerResponse['end'];
    res.once('close', () => {
      // As in captureResponse: the handler may still end and commit; roll back if it never does.
      if (!ended) afterGrace(graceMs, () => ended || reject(new RequestAbortedError()));
    });
  });
  // Settled by the caller; an abort after the transaction ended must not surface as unhandled.
  done.catch(() => {});
  return {
    done,
    restore() {
      res.write = own.write;
      res.end = own.end;
      res.writeHead = own.writeHead;
    },
  };
}

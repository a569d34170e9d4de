import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Claim } from '../core/claim.ts';
import { RELEASE_REASONS } from '../core/events.ts';
import { adoptHeaders } from './node-send.ts';
import { RequestAbortedError } from './request-aborted-error.ts';

type Chunk = Uint8Array | string;
type Callback = (error?: Error | null) => void;
type HeadersArg = OutgoingHttpHeaders | readonly (string | readonly string[])[] | undefined;

const NOTHING: readonly Chunk[] = [];

/**
 * Captures what a handler writes to a Node response while it goes out: every `write` is passed on
 * at once and a copy kept (up to `claim.maxBodyBytes`; past it the copy is dropped and the key
 * released, the response still sent whole). The final `end` waits for `claim.complete`, so once a
 * client has the whole response a retry finds it stored. No copy is kept of a status that is not
 * stored (401, 5xx…). When the connection closes first, the handler still has `graceMs` (the
 * lease) to end: its response is stored then; if it never ends, the key is released.
 */
export function captureResponse(res: ServerResponse, claim: Claim, graceMs: number): void {
  const { write, end } = res;
  const writeHead = res.writeHead as (
    status: number,
    message?: unknown,
    headers?: unknown,
  ) => ServerResponse;
  let chunks: Chunk[] | undefined = [];
  let size = 0;
  let ending = false;
  const limit = claim.maxBodyBytes;

  const keep = (chunk: unknown, encoding: unknown): void => {
    if (chunks === undefined || chunk === undefined || chunk === null) return;
    let bytes: Chunk;
    if (typeof chunk === 'string') {
      const utf8 = encoding === undefined || encoding === 'utf8' || encoding === 'utf-8';
      bytes = utf8 ? chunk : Buffer.from(chunk, encoding as BufferEncoding);
      size += utf8 ? Buffer.byteLength(chunk) : bytes.length;
    } else {
      bytes = chunk as Uint8Array;
      size += bytes.byteLength;
    }
    if (size > limit) {
      chunks = undefined;
      void claim.release(RELEASE_REASONS.tooLarge, res.statusCode);
      return;
    }
    chunks.push(bytes);
  };

  // Headers given to writeHead as an object: Node sends them without keeping them when no header
  // was set before, so they are kept here (cheaper than setHeader for each).
  let given: OutgoingHttpHeaders | undefined;
  res.writeHead = function capturedWriteHead(
    this: ServerResponse,
    status: number,
    message?: string | HeadersArg,
    headers?: HeadersArg,
  ): ServerResponse {
    const withMessage = typeof message === 'string';
    const object = withMessage ? headers : message;
    if (!claim.willStore(status)) chunks = undefined;
    if (object !== undefined && object !== null && !Array.isArray(object)) {
      given = object as OutgoingHttpHeaders;
      return withMessage
        ? writeHead.call(this, status, message, object)
        : writeHead.call(this, status, object);
    }
    adoptHeaders(this, object);
    return withMessage ? writeHead.call(this, status, message) : writeHead.call(this, status);
  } as ServerResponse['writeHead'];

  res.write = function capturedWrite(
    this: ServerResponse,
    chunk: unknown,
    encoding?: unknown,
    callback?: unknown,
  ): boolean {
    keep(chunk, typeof encoding === 'string' ? encoding : undefined);
    return write.call(this, chunk, encoding as BufferEncoding, callback as Callback);
  } as ServerResponse['write'];

  res.end = function capturedEnd(
    this: ServerResponse,
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
    if (ending) {
      // A second end while the first waits for the store: Node would ignore its data too.
      if (typeof callback === 'function') this.once('finish', callback as () => void);
      return this;
    }
    ending = true;
    keep(chunk, encoding);
    const finish = () => {
      end.call(this, chunk, encoding as BufferEncoding, callback as () => void);
    };
    if (claim.settled) {
      finish();
      return this;
    }
    void claim
      .complete({
        status: this.statusCode,
        headers: headersOf(this, given),
        body: chunks ?? NOTHING,
      })
      .then(finish);
    return this;
  } as ServerResponse['end'];

  res.once('close', () => {
    if (ending || claim.settled) return;
    // The client went away while the handler runs. Releasing now would let its retry run the
    // operation a second time: the handler gets `graceMs` to end, and its response is stored.
    afterGrace(graceMs, () => {
      if (!ending && !claim.settled) void claim.release(RELEASE_REASONS.aborted, res.statusCode);
    });
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
      resolve({ status: this.statusCode, headers: this.getHeaders(), body });
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

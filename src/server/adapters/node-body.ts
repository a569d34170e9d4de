import type { IncomingMessage } from 'node:http';
import { RequestBodyTooLargeError } from '../core/request-body-too-large-error.ts';
import { BodyUnavailableError } from './body-unavailable-error.ts';
import { RequestAbortedError } from './request-aborted-error.ts';

// The bytes a guard read, per request: a second guard on the same request (an app-level and a
// route-level Express middleware, two routers) gets them from here. It cannot read the stream
// again: the first read marked it read (`readableDidRead`), though the bytes were given back.
const readBodies = new WeakMap<IncomingMessage, Buffer | undefined>();

/** True when the request announces a body (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
export function announcesBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Reads the whole request body, then puts it back at the front of the stream (`unshift`), so the
 * handler, or a body parser mounted after the adapter, reads the request as if it were untouched.
 *
 * The bytes are pulled with `read()` in paused mode and given back before the stream's `end`
 * event can fire: Node schedules `end` on the next tick and skips it while data is buffered, and
 * `unshift` is allowed until `end` was emitted. Bodies over `limit` reject with
 * {@link RequestBodyTooLargeError} (nothing is given back: the request is refused). With
 * `giveBack` false the stream is left read (the caller hands the bytes on some other way). A body
 * already read by someone else rejects with {@link BodyUnavailableError}.
 *
 * The bytes are remembered on the request: a later call for the same request (a second guard)
 * gets them without reading the stream again, still refused over its own `limit`.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  giveBack = true,
): Promise<Buffer | undefined> {
  if (!announcesBody(req)) return Promise.resolve(undefined);
  if (readBodies.has(req)) return remembered(req, limit);
  // Fingerprinting without the body would let a key reused with another body replay.
  if (req.readableDidRead) return Promise.reject(new BodyUnavailableError());
  // Usually the whole body came in the packet that held the headers: the parser buffers it right
  // after the 'request' event, before any microtask runs. Take it then, at once, without a
  // promise's worth of listeners; only a body still on its way waits for 'readable'.
  if (req.complete && !req.destroyed) return buffered(req, limit, giveBack);
  return Promise.resolve().then(() => {
    if (readBodies.has(req)) return remembered(req, limit);
    if (req.readableDidRead) throw new BodyUnavailableError();
    // Destroyed, its 'close' may have gone by already: listening for it would wait forever.
    if (req.destroyed) throw new RequestAbortedError();
    return req.complete ? buffered(req, limit, giveBack) : streamBody(req, limit, giveBack);
  });
}

function remembered(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const body = readBodies.get(req);
  // An earlier guard with a larger limit read it: this one's limit still holds.
  if (body !== undefined && body.byteLength > limit) {
    return Promise.reject(new RequestBodyTooLargeError(limit));
  }
  return Promise.resolve(body);
}

/**
 * The body read of `req` (its chunks, `size` bytes in all; undefined when empty). Given back to
 * the stream if asked, and then remembered for a later guard, which can no longer read the
 * stream. Without `giveBack` the caller hands the bytes on itself (Hono's `rawBody`).
 */
function keep(
  req: IncomingMessage,
  chunks: Buffer[],
  size: number,
  giveBack: boolean,
): Buffer | undefined {
  const body =
    size === 0
      ? undefined
      : chunks.length === 1
        ? (chunks[0] as Buffer)
        : Buffer.concat(chunks, size);
  if (giveBack) {
    readBodies.set(req, body);
    if (body !== undefined) req.unshift(body);
  }
  return body;
}

function buffered(
  req: IncomingMessage,
  limit: number,
  giveBack: boolean,
): Promise<Buffer | undefined> {
  try {
    return Promise.resolve(readBuffered(req, limit, giveBack));
  } catch (error) {
    return Promise.reject(error);
  }
}

function streamBody(
  req: IncomingMessage,
  limit: number,
  giveBack: boolean,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('readable', onReadable);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new RequestAbortedError({ cause: error }));
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new RequestAbortedError());
    };
    function onReadable(): void {
      for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read()) {
        size += chunk.byteLength;
        if (size > limit) {
          cleanup();
          reject(new RequestBodyTooLargeError(limit));
          return;
        }
        chunks.push(chunk);
      }
      if (!req.complete) return;
      cleanup();
      resolve(keep(req, chunks, size, giveBack));
    }
    req.on('readable', onReadable);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function readBuffered(req: IncomingMessage, limit: number, giveBack: boolean): Buffer | undefined {
  if (req.readableLength > limit) throw new RequestBodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read()) {
    size += chunk.byteLength;
    chunks.push(chunk);
  }
  if (size > limit) throw new RequestBodyTooLargeError(limit);
  return keep(req, chunks, size, giveBack);
}

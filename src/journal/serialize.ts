import type { PersistedBody, PersistedRequest } from './journal.ts';
import { NotPersistableError } from './not-persistable-error.ts';

/**
 * Headers never written to a journal (issue 3): credentials are supplied again at send time by a
 * hook, so a resumed operation authenticates with the current token, and a journal on disk or in
 * IndexedDB never holds one.
 */
export const SECRET_HEADERS: readonly string[] = ['authorization', 'cookie', 'proxy-authorization'];

/** A request as an operation's `request(input)` describes it. */
export interface RequestDescription {
  url: string | URL;
  /** @default 'GET', or 'POST' when there is a body */
  method?: string;
  headers?: HeadersInit;
  /** A JSON body; takes precedence over `body`. */
  json?: unknown;
  body?: BodyInit | null;
}

/** Options of {@link serializeRequest}. */
export interface SerializeOptions {
  /**
   * More header names never to write (any case), on top of `Authorization`, `Cookie` and
   * `Proxy-Authorization`, such as an API key header.
   * @default []
   * @example
   * ```ts
   * serializeRequest(request, { secretHeaders: ['x-api-key'] })
   * ```
   */
  secretHeaders?: readonly string[];
}

/**
 * The request in the form a journal keeps: secret headers dropped, the body as a tagged value.
 * Synchronous, so that it can refuse a body before anything is sent.
 *
 * @throws {NotPersistableError} for a `ReadableStream` body, a `FormData` holding a file, or a body
 * of a kind it does not know.
 * @example
 * ```ts
 * const persisted = serializeRequest(
 *   { url: '/charges', method: 'POST', headers: { authorization: 'Bearer abc' }, json: { amount: 5 } },
 * ); // { url: '/charges', method: 'POST', headers: [], body: { type: 'json', value: { amount: 5 } } }
 * ```
 */
export function serializeRequest(
  request: RequestDescription,
  options: SerializeOptions = {},
): PersistedRequest {
  const secret = [...SECRET_HEADERS, ...(options.secretHeaders ?? [])].map((name) =>
    name.toLowerCase(),
  );
  const headers: [string, string][] = [];
  for (const [name, value] of new Headers(request.headers)) {
    if (!secret.includes(name)) headers.push([name, value]);
  }
  const body =
    request.json !== undefined ? jsonBody(request.json) : persistBody(request.body ?? undefined);
  const method = (request.method ?? (body ? 'POST' : 'GET')).toUpperCase();
  const persisted: PersistedRequest = { url: String(request.url), method, headers };
  if (body) persisted.body = body;
  return persisted;
}

/** A persisted request ready for `fetch(url, { method, headers, body })`. */
export interface RestoredRequest {
  url: string;
  method: string;
  headers: Headers;
  body: BodyInit | undefined;
}

/**
 * The inverse of {@link serializeRequest}, for sending a journaled request again. Secret headers
 * are not there: the client adds them back from its headers hook.
 *
 * @example
 * ```ts
 * const { url, ...init } = deserializeRequest(entry.request);
 * await fetch(url, init);
 * ```
 */
export function deserializeRequest(request: PersistedRequest): RestoredRequest {
  const headers = new Headers(request.headers);
  const body = request.body;
  let restored: BodyInit | undefined;
  if (body?.type === 'json') {
    restored = JSON.stringify(body.value);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (body?.type === 'params') restored = new URLSearchParams(body.value);
  else if (body?.type === 'bytes') restored = new Uint8Array(body.value);
  else if (body?.type === 'form') {
    restored = new FormData();
    for (const [name, value] of body.value) restored.append(name, value);
  } else restored = body?.value; // text, a Blob, or none
  return { url: request.url, method: request.method, headers, body: restored };
}

/**
 * A JSON body as journaled: the value after a JSON round trip.
 * @throws {NotPersistableError} for a value JSON cannot hold
 */
export function jsonBody(value: unknown): { type: 'json'; value: unknown } {
  // Round-trip now: a value JSON cannot hold (a BigInt, a cycle) fails here, before sending, and
  // what is kept is exactly what will be sent (toJSON applied, undefined fields dropped).
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new NotPersistableError('json', `the JSON body cannot be serialised (${error})`);
  }
  if (text === undefined)
    throw new NotPersistableError('json', 'the JSON body is not a JSON value');
  return { type: 'json', value: JSON.parse(text) };
}

function persistBody(body: BodyInit | undefined): PersistedBody | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return { type: 'text', value: body };
  if (body instanceof URLSearchParams) return { type: 'params', value: body.toString() };
  if (body instanceof ArrayBuffer) return { type: 'bytes', value: new Uint8Array(body.slice(0)) };
  if (ArrayBuffer.isView(body)) {
    // A copy: the caller may reuse its buffer after the call, the journal must keep what was sent.
    const view = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return { type: 'bytes', value: view.slice() };
  }
  if (body instanceof Blob) return { type: 'blob', value: body };
  if (body instanceof FormData) {
    const fields: [string, string][] = [];
    for (const [name, value] of body) {
      if (typeof value !== 'string') {
        throw new NotPersistableError(
          'form-file',
          `form field '${name}' holds a file (send it with durable: false, or upload it first)`,
        );
      }
      fields.push([name, value]);
    }
    return { type: 'form', value: fields };
  }
  if (body instanceof ReadableStream) {
    throw new NotPersistableError(
      'stream',
      'a ReadableStream can be read only once (buffer it, or pass durable: false)',
    );
  }
  const kind = (body as object)?.constructor?.name ?? typeof body;
  throw new NotPersistableError(kind, `a ${kind} body cannot be kept`);
}

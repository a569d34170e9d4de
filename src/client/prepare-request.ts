import { formatKeyHeader, KEY_HEADER, type KeyFormat } from '../protocol.ts';
import { chooseKey } from './choose-key.ts';
import type { RequestOptions } from './options.ts';
import type { RequestParts } from './transport.ts';

/** Client-wide settings that shape each request. */
export interface RequestDefaults {
  readonly baseUrl: string | URL | undefined;
  readonly headers: HeadersInit | undefined;
  readonly keyFormat: KeyFormat;
  /** Makes a key when the call gives none; validates what a custom generator returns. */
  readonly generateKey: () => string;
}

/** A call ready to send: its key, and a factory of identical requests. */
export interface PreparedRequest {
  readonly method: string;
  readonly key: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly createRequest: () => RequestParts;
}

/**
 * Resolves the URL, headers, body and key of a call. Bodies are kept as given and a fresh init is
 * built per attempt, so a string, ArrayBuffer, Blob, URLSearchParams or FormData is sent whole
 * every time. A ReadableStream can be read only once: it is buffered here, before the first
 * attempt, so that every attempt sends the same bytes (documented in docs/client.md). Synchronous
 * unless a body must be buffered: the common call pays for no extra promise.
 */
export function prepareRequest(
  input: string | URL | Request,
  options: RequestOptions,
  defaults: RequestDefaults,
): PreparedRequest | Promise<PreparedRequest> {
  const {
    idempotencyKey,
    json,
    timeout: _timeout,
    totalTimeout: _totalTimeout,
    retry: _retry,
    throwHttpErrors: _throwHttpErrors,
    headers: callHeaders,
    body: callBody,
    method: callMethod,
    signal: callSignal,
    ...init
  } = options;
  const isRequest = typeof input === 'object' && 'url' in input && !(input instanceof URL);
  const url = isRequest ? input.url : resolveUrl(input, defaults.baseUrl);
  const method = (callMethod ?? (isRequest ? input.method : 'GET')).toUpperCase();

  // Without headers to merge, a plain record is enough: fetch copies headers into its own object,
  // so building a Headers here would be paid twice (the hot path of issue 2's 1.10× target).
  const merged =
    isRequest || callHeaders !== undefined || defaults.headers !== undefined
      ? new Headers(defaults.headers)
      : undefined;
  if (merged && isRequest) for (const [name, value] of input.headers) merged.set(name, value);
  if (merged && callHeaders)
    for (const [name, value] of new Headers(callHeaders)) merged.set(name, value);
  const record: Record<string, string> = {};

  let body: BodyInit | null | undefined = callBody;
  if (json !== undefined) {
    body = JSON.stringify(json);
    if (!merged) record['content-type'] = 'application/json';
    else if (!merged.has('content-type')) merged.set('content-type', 'application/json');
  }

  assertFetchable(url, method, body != null);
  const key = chooseKey(idempotencyKey, merged, method, defaults.generateKey);
  if (key !== undefined) {
    const value = formatKeyHeader(key, defaults.keyFormat);
    if (merged) merged.set(KEY_HEADER, value);
    else record[KEY_HEADER] = value;
  }

  const signal = callSignal ?? (isRequest ? input.signal : undefined) ?? undefined;
  const finish = (finalBody: BodyInit | null | undefined): PreparedRequest => {
    const headers = merged ?? record;
    const requestInit: RequestInit = isRequest
      ? { ...requestSettings(input), ...init, method, headers, body: finalBody }
      : { ...init, method, headers, body: finalBody };
    return { method, key, signal, createRequest: () => ({ url, init: { ...requestInit } }) };
  };
  if (body === undefined && isRequest && input.body !== null)
    return input.arrayBuffer().then(finish);
  if (body instanceof ReadableStream) return new Response(body).arrayBuffer().then(finish);
  return finish(body);
}

/**
 * Throws fetch's own TypeError for a request it refuses to send (a malformed or forbidden method,
 * a body on GET or HEAD) before the first attempt: the refusal would otherwise look like a network
 * error and be retried. A Request is built only when the check can fail, not on the common path.
 * `method` is upper case.
 */
export function assertFetchable(url: string, method: string, hasBody: boolean): void {
  if (
    !/^(POST|PUT|PATCH|DELETE|OPTIONS)$/.test(method) &&
    (hasBody || !/^(GET|HEAD)$/.test(method))
  )
    void new Request(url, { method, body: hasBody ? '' : null });
}

/** What a Request input carries besides its URL, method, headers, body and signal. */
function requestSettings(request: Request): RequestInit {
  const { cache, credentials, integrity, keepalive, redirect, referrer, referrerPolicy } = request;
  return { cache, credentials, integrity, keepalive, redirect, referrer, referrerPolicy };
}

/**
 * The absolute URL. Parsed here, before any attempt, so that a malformed or (outside a browser)
 * relative URL throws fetch's TypeError at once instead of failing every attempt as a network error.
 */
export function resolveUrl(input: string | URL, baseUrl: string | URL | undefined): string {
  if (input instanceof URL && baseUrl === undefined) return input.href;
  const base = baseUrl ?? (globalThis as { location?: { href: string } }).location?.href;
  // An absolute URL needs only checking: fetch parses it again anyway (canParse builds no URL).
  if (base === undefined && typeof input === 'string' && URL.canParse(input)) return input;
  return (base === undefined ? new URL(input) : new URL(input, base)).href;
}

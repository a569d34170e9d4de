import { formatKeyHeader, KEY_HEADER, type KeyFormat } from '../protocol.ts';
import { chooseKey } from './choose-key.ts';
import type { RequestOptions } from './options.ts';
import type { RequestParts } from './transport.ts';

/** Client-wide settings that shape each request. */
export interface RequestDefaults {
  readonly baseUrl: string | URL | undefined;
  readonly headers: HeadersInit | undefined;
  readonly keyFormat: KeyFormat;
  readonly keyVersion: 'v4' | 'v7';
}

/** A call ready to send: its key, and a factory of identical requests. */
export interface PreparedRequest {
  readonly method: string;
  readonly key: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly createRequest: () => RequestParts;
}

/**
 * Resolves the URL, headers, body and key of a call. Bodies are kept as given and a fresh
 * Request is built per attempt, so a string, ArrayBuffer, Blob, URLSearchParams or FormData is
 * sent whole every time. A ReadableStream can be read only once: it is buffered here, before the
 * first attempt, so that every attempt sends the same bytes (documented in docs/client.md).
 */
export async function prepareRequest(
  input: string | URL | Request,
  options: RequestOptions,
  defaults: RequestDefaults,
): Promise<PreparedRequest> {
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

  const headers = new Headers(defaults.headers);
  if (isRequest) for (const [name, value] of input.headers) headers.set(name, value);
  if (callHeaders) for (const [name, value] of new Headers(callHeaders)) headers.set(name, value);

  let body: BodyInit | null | undefined = callBody;
  if (json !== undefined) {
    body = JSON.stringify(json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (body === undefined && isRequest && input.body !== null) {
    body = await input.arrayBuffer();
  }
  if (body instanceof ReadableStream) body = await new Response(body).arrayBuffer();

  const key = chooseKey(idempotencyKey, headers, method, defaults.keyVersion);
  if (key !== undefined) headers.set(KEY_HEADER, formatKeyHeader(key, defaults.keyFormat));

  const signal = callSignal ?? (isRequest ? input.signal : undefined) ?? undefined;
  const requestInit: RequestInit = isRequest
    ? { ...requestSettings(input), ...init, method, headers, body }
    : { ...init, method, headers, body };
  return { method, key, signal, createRequest: () => ({ url, init: { ...requestInit } }) };
}

/** What a Request input carries besides its URL, method, headers, body and signal. */
function requestSettings(request: Request): RequestInit {
  const { cache, credentials, integrity, keepalive, redirect, referrer, referrerPolicy } = request;
  return { cache, credentials, integrity, keepalive, redirect, referrer, referrerPolicy };
}

function resolveUrl(input: string | URL, baseUrl: string | URL | undefined): string {
  if (baseUrl === undefined) return input instanceof URL ? input.href : input;
  return new URL(input, baseUrl).href;
}

import { InvalidKeyError } from '../key/invalid-key-error.ts';
import { newKey } from '../key/new-key.ts';
import { assertValidKey } from '../key/validate.ts';
import { formatKeyHeader, KEY_HEADER, type KeyFormat, parseKeyHeader } from '../protocol.ts';
import { KEYED_METHODS } from '../retry/policy.ts';
import type { RequestOptions } from './options.ts';

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
  readonly createRequest: () => Request;
}

const KEYED = new Set(KEYED_METHODS);

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
  const requestInit: RequestInit = { ...init, method, headers, body };
  return { method, key, signal, createRequest: () => new Request(url, requestInit) };
}

function chooseKey(
  option: string | boolean | undefined,
  headers: Headers,
  method: string,
  version: 'v4' | 'v7',
): string | undefined {
  if (typeof option === 'string') return assertValidKey(option);
  const header = headers.get(KEY_HEADER);
  if (option === false) {
    headers.delete(KEY_HEADER);
    return undefined;
  }
  if (header !== null) {
    const parsed = parseKeyHeader(header);
    if (!parsed.ok) throw new InvalidKeyError(header, parsed.reason);
    return assertValidKey(parsed.key);
  }
  if (option === true || KEYED.has(method)) return newKey({ version });
  return undefined;
}

function resolveUrl(input: string | URL, baseUrl: string | URL | undefined): string {
  if (baseUrl === undefined) return input instanceof URL ? input.href : input;
  return new URL(input, baseUrl).href;
}

import { formatKeyHeader, KEY_HEADER } from '../../protocol.ts';
import type { CheckArgs } from './args.ts';

/** What one request of a case got back: an answer, or why there was none. */
export type Answer =
  | { ok: true; status: number; headers: Headers; body: string }
  | { ok: false; error: string };

/** One request of a case: the key to send (none for the missing-key case) and the body. */
export interface ProbeInput {
  key: string | undefined;
  body: string;
}

/**
 * Sends one request with plain `fetch`, never the retrying client: each case is exactly one
 * request, so an API's answer is not hidden by a retry.
 */
export async function probe(args: CheckArgs, input: ProbeInput): Promise<Answer> {
  const headers = new Headers();
  for (const [name, value] of args.headers) headers.append(name, value);
  if (!headers.has('content-type')) headers.set('content-type', contentTypeOf(input.body));
  if (input.key !== undefined) headers.set(KEY_HEADER, formatKeyHeader(input.key, args.keyFormat));
  try {
    const response = await fetch(args.url, {
      method: args.method,
      headers,
      body: input.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(args.timeoutMs),
    });
    const body = await response.text();
    return { ok: true, status: response.status, headers: response.headers, body };
  } catch (error) {
    return { ok: false, error: describe(error, args.timeoutMs) };
  }
}

function contentTypeOf(body: string): string {
  try {
    JSON.parse(body);
    return 'application/json';
  } catch {
    return 'text/plain;charset=utf-8';
  }
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return `no answer within ${timeoutMs} ms`;
  }
  // fetch wraps the socket error (ECONNREFUSED, ENOTFOUND…) as its cause.
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.code === 'string') return `request failed: ${cause.code}`;
  return `request failed: ${error instanceof Error ? error.message : String(error)}`;
}

import { formatKeyHeader, KEY_HEADER } from '../../protocol.ts';
import { runAttempts } from '../attempt-loop.ts';
import { RetryAfterTooLongError } from '../errors/retry-after-too-long-error.ts';
import { RetryLimitError } from '../errors/retry-limit-error.ts';
import { TimeoutError } from '../errors/timeout-error.ts';
import type { FetchFunction } from '../transport.ts';
import type { SendContext } from './context.ts';

/** A request ready to be sent any number of times. */
export interface Sendable {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: BodyInit | undefined;
}

/** How one session's attempts at an operation ended. */
export type Settlement =
  | { readonly kind: 'succeeded'; readonly response: Response; readonly attempts: number }
  | { readonly kind: 'failed'; readonly error: Error; readonly attempts: number }
  | {
      readonly kind: 'pending';
      readonly error: Error;
      readonly attempts: number;
      /** When the server asked to come back (a long `Retry-After`), epoch ms. */
      readonly retryAt: number | undefined;
    };

/**
 * Sends an operation through the client's attempt loop with its fixed key, and sorts the outcome:
 * settled (success, or a refusal no retry can change) or still pending. It rejects only with the
 * signal's reason.
 */
export async function sendOperation(
  context: SendContext,
  sendable: Sendable,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Settlement> {
  let headers: Headers;
  try {
    headers = await sendHeaders(context, sendable.headers, key);
  } catch (error) {
    // No token yet (offline, refresh failed): nothing was sent, so the operation waits.
    return { kind: 'pending', error: asError(error), attempts: 0, retryAt: undefined };
  }
  const url = resolveUrl(sendable.url, context.baseUrl);
  const init: RequestInit = { method: sendable.method, headers, body: sendable.body };
  const outcome = await runAttempts({
    key,
    method: sendable.method,
    createRequest: () => new Request(url, init),
    fetch: context.fetch ?? (globalThis.fetch as FetchFunction),
    policy: context.policy,
    timeout: context.timeout,
    totalTimeout: context.totalTimeout,
    signal,
    budget: context.budget,
    hooks: context.hooks,
  });
  if (outcome.ok) {
    return { kind: 'succeeded', response: outcome.response, attempts: attemptCount(outcome) };
  }
  const attempts = attemptCount(outcome);
  const { error } = outcome;
  // A whole-call timeout is final for a plain call, but for an operation it only means no answer
  // came: the server may or may not have acted, and the same key makes asking again safe.
  if (outcome.retryable || error instanceof RetryLimitError || error instanceof TimeoutError) {
    outcome.response?.body?.cancel().catch(() => {});
    const retryAt = error instanceof RetryAfterTooLongError ? error.retryAt : undefined;
    return { kind: 'pending', error, attempts, retryAt };
  }
  return { kind: 'failed', error, attempts };
}

/** The client's headers (the hook called now), then the request's own, then the key. */
async function sendHeaders(context: SendContext, own: Headers, key: string): Promise<Headers> {
  const source = context.headers;
  const headers = new Headers(typeof source === 'function' ? await source() : source);
  for (const [name, value] of own) headers.set(name, value);
  headers.set(KEY_HEADER, formatKeyHeader(key, context.keyFormat));
  return headers;
}

function attemptCount(outcome: { attempts: readonly { attempt: number }[]; ok: boolean }): number {
  // Records hold the failed attempts; a success adds one.
  const failed = outcome.attempts.at(-1)?.attempt ?? 0;
  return outcome.ok ? failed + 1 : Math.max(failed, 1);
}

function resolveUrl(url: string, baseUrl: string | URL | undefined): string {
  return baseUrl === undefined ? url : new URL(url, baseUrl).href;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

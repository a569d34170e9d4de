import { RetryAfterTooLongError } from '../errors/retry-after-too-long-error.ts';
import { RetryLimitError } from '../errors/retry-limit-error.ts';
import { TimeoutError } from '../errors/timeout-error.ts';
import { type PreparedRequest, prepareRequest } from '../prepare-request.ts';
import type { SendContext } from './context.ts';

/**
 * A request ready to be sent any number of times: a journaled one restored, or, without a
 * journal, a description as given (its `json` and a stream body are then handled as a client call
 * handles them).
 */
export interface Sendable {
  readonly url: string;
  readonly method: string;
  readonly headers?: HeadersInit | undefined;
  readonly body?: BodyInit | null | undefined;
  readonly json?: unknown;
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
    // The client's headers hook, called now: a resumed operation sends the current token.
    const source = context.headers;
    headers = new Headers(typeof source === 'function' ? await source() : source);
  } catch (error) {
    // No token yet (offline, refresh failed): nothing was sent, so the operation waits.
    return { kind: 'pending', error: asError(error), attempts: 0, retryAt: undefined };
  }
  // As a client call is built: the client's headers, then the request's own, then the key.
  const { url, ...request } = sendable;
  let prepared: PreparedRequest;
  try {
    prepared = await prepareRequest(
      url,
      { ...request, idempotencyKey: key, signal },
      { ...context, headers },
    );
  } catch (error) {
    return unbuildable(error);
  }
  const outcome = await context.attempt(prepared);
  // One record per failed attempt, numbered from 1; a success is one attempt more.
  const attempts = outcome.attempts.length + (outcome.ok ? 1 : 0);
  if (outcome.ok) return { kind: 'succeeded', response: outcome.response, attempts };
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

/**
 * A journaled request that cannot be built (a URL or header edited by hand, or no longer
 * resolvable): no retry can send it, so it settles as failed instead of stopping every resume pass.
 */
export function unbuildable(error: unknown): Settlement {
  return { kind: 'failed', error: asError(error), attempts: 0 };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

import { MISSING_KEY_PROBLEM } from '../protocol.ts';
import { isRetryableStatus, type RetryPolicy } from '../retry/policy.ts';
import { parseRetryAfter } from '../retry/retry-after.ts';
import { type AttemptFailure, attemptFailure } from './attempt-failure.ts';
import { HttpError } from './errors/http-error.ts';
import { KeyRequiredError } from './errors/key-required-error.ts';
import { KeyReusedError } from './errors/key-reused-error.ts';

/**
 * Reads a non-2xx response into a failure: which error the caller gets, whether another attempt
 * may help, and the server's `Retry-After`. The response body stays unread for the caller, except
 * for a peek at a copy of a 400 problem document.
 */
export async function classifyResponse(
  response: Response,
  attempt: number,
  key: string | undefined,
  policy: RetryPolicy,
): Promise<AttemptFailure> {
  const { status } = response;
  if (status === 422 && key !== undefined) {
    return attemptFailure(attempt, 'status', false, new KeyReusedError(response, key), response);
  }
  if (status === 400 && (await problemType(response)) === MISSING_KEY_PROBLEM) {
    return attemptFailure(attempt, 'status', false, new KeyRequiredError(response), response);
  }
  const retryable = isRetryableStatus(policy, status, key !== undefined);
  const retryAfter = retryable ? parseRetryAfter(response.headers.get('retry-after')) : undefined;
  const error = new HttpError(response, key);
  return attemptFailure(attempt, 'status', retryable, error, response, retryAfter);
}

/** The last path segment of an RFC 9457 problem `type`, or undefined when there is none. */
async function problemType(response: Response): Promise<string | undefined> {
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.includes('problem+json')) return undefined;
  try {
    const body = (await response.clone().json()) as { type?: unknown };
    if (typeof body?.type !== 'string') return undefined;
    return body.type.slice(body.type.lastIndexOf('/') + 1);
  } catch {
    return undefined;
  }
}

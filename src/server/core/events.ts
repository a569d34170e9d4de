/** Why a claimed key was released rather than completed (a retry will run the handler again). */
export const RELEASE_REASONS = {
  /** 401, 403, 408, 409 or 429: not the operation's outcome. */
  status: 'status-not-stored',
  /** A 5xx, with `storeServerErrors` off. */
  serverError: 'server-error',
  /** The handler threw. */
  threw: 'handler-threw',
  /** The body passed `maxBodyBytes`. */
  tooLarge: 'too-large',
  /** The response stream failed or the client went away before its end. */
  aborted: 'aborted',
} as const;

export type ReleaseReason = (typeof RELEASE_REASONS)[keyof typeof RELEASE_REASONS];

interface Base {
  /** The request's key. */
  key: string;
  /** The scope the key lives in. */
  scope: string;
}

/**
 * What the helper reports through `onEvent`. Watch `replay` and `mismatch`: many of them where
 * none are expected usually mean a key algorithm that gives two operations the same key.
 */
export type IdempotencyEvent =
  /** This request claimed the key and runs the handler. */
  | (Base & { type: 'claim' })
  /** This request took over a key whose previous holder's lease lapsed (it likely died). */
  | (Base & { type: 'takeover'; previousOwner: string })
  /** A stored response was sent again. */
  | (Base & { type: 'replay'; status: number })
  /** The key is held by a request still running: 409 (or the wait timed out). */
  | (Base & { type: 'conflict'; retryAfter: number })
  /** The key was reused with another method, path or body: 422. */
  | (Base & { type: 'mismatch' })
  /** The handler's response was stored. */
  | (Base & { type: 'complete'; status: number })
  /** The key was freed without a stored response; a retry runs the handler again. */
  | (Base & { type: 'release'; reason: ReleaseReason; status?: number })
  /** The response was sent but not stored because its body passed `maxBodyBytes`. */
  | (Base & { type: 'not-stored'; reason: 'too-large'; maxBodyBytes: number })
  /** This request's lease lapsed and another took the key over: its response was not stored. */
  | (Base & { type: 'lost' })
  /** A store call failed. During `claim` the request was answered 503 and not run. */
  | (Base & { type: 'store-error'; operation: string; error: unknown });

export type IdempotencyEventType = IdempotencyEvent['type'];

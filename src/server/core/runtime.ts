import { REPLAYED_HEADER } from '../../protocol.ts';
import { MAX_TIMER_MS } from '../../timer-limit.ts';
import {
  type CompletedRecord,
  type InFlightRecord,
  RECORD_STATE,
  type StoredResponse,
  type StoreRecord,
} from '../stores/store.ts';
import type { IdempotencyEvent, ReleaseReason } from './events.ts';
import { RELEASE_REASONS } from './events.ts';
import type { CoreOptions } from './options.ts';
import { ownerToken } from './owner-token.ts';
import { PROBLEMS, type Problem, problemJson, problemType, toPlainProblem } from './problem.ts';
import { Renewals } from './renewals.ts';
import { type Settings, settingsOf } from './settings.ts';
import { storedHeaders } from './stored-headers.ts';
import type { HandlerResponse, PlainResponse } from './types.ts';

// Not the operation's outcome: the client may well succeed on a retry (authentication, a
// timeout, a conflict, rate limiting), so they are released rather than replayed.
const NOT_STORED_STATUSES = new Set([401, 403, 408, 409, 429]);
const REPLAYED: [string, string] = [REPLAYED_HEADER.toLowerCase(), 'true'];
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** What an existing record means for a request with fingerprint `fingerprint`. */
export type Verdict = 'mismatch' | 'replay' | 'lapsed' | 'busy';

/** The engine's shared state: settings, renewal timer, events, problem answers. @internal */
export class Runtime {
  readonly settings: Settings;
  readonly renewals: Renewals;
  readonly #onEvent: ((event: IdempotencyEvent) => void) | undefined;

  constructor(options: CoreOptions<never>) {
    this.settings = settingsOf(options);
    this.renewals = new Renewals(this.settings.leaseMs, this.settings.now);
    this.#onEvent = options.onEvent;
  }

  get observed(): boolean {
    return this.#onEvent !== undefined;
  }

  emit(event: IdempotencyEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch {
      // An observer must never change the answer a client gets.
    }
  }

  /** Why a handler's answer with `status` is not stored, or undefined when it is. */
  notStoredReason(status: number): ReleaseReason | undefined {
    // Not a final answer (RFC 9110 §15): a web network error (Response.error()) has status 0.
    // Stored, its replay could not even be built, and every retry would fail until it expired.
    if (!(status >= 200 && status <= 599)) return RELEASE_REASONS.aborted;
    if (NOT_STORED_STATUSES.has(status)) return RELEASE_REASONS.status;
    if (status >= 500 && !this.settings.storeServerErrors) return RELEASE_REASONS.serverError;
    return undefined;
  }

  judge(record: StoreRecord, fingerprint: string, now: number): Verdict {
    // The fingerprint first: a reused key never reveals the stored response (the draft's §2.7).
    if (record.fingerprint !== fingerprint) return 'mismatch';
    if (record.state === RECORD_STATE.completed) return 'replay';
    return record.leaseUntil <= now ? 'lapsed' : 'busy';
  }

  replay(response: StoredResponse): PlainResponse {
    const headers = response.headers.slice();
    headers.push(REPLAYED);
    return { status: response.status, headers, body: response.body };
  }

  /** Seconds until `leaseUntil`, at least 1 (the 409's `Retry-After`). */
  retryAfter(leaseUntil: number): number {
    return Math.max(1, Math.ceil((leaseUntil - this.settings.now()) / 1000));
  }

  /** A new in-flight record for a claim or a takeover: a fresh owner token and lease. */
  inFlightRecord(fingerprint: string): InFlightRecord {
    const settings = this.settings;
    const now = settings.now();
    const leaseUntil = now + settings.leaseMs;
    return {
      state: RECORD_STATE.inFlight,
      fingerprint,
      owner: ownerToken(),
      leaseUntil,
      // Never before the lease ends: an expired record counts as absent, and a duplicate would run
      // the handler again while this one still holds the key (ttlMs may be shorter than leaseMs).
      expiresAt: Math.max(now + settings.ttlMs, leaseUntil),
    };
  }

  completedRecord(
    response: HandlerResponse,
    body: Uint8Array,
    fingerprint: string,
  ): CompletedRecord {
    const now = this.settings.now();
    return {
      state: RECORD_STATE.completed,
      fingerprint,
      response: {
        status: response.status,
        headers: storedHeaders(response.headers, this.settings.storeSetCookie),
        body,
      },
      completedAt: now,
      expiresAt: now + this.settings.ttlMs,
    };
  }

  async problem(
    kind: keyof typeof PROBLEMS,
    detail: string,
    key?: string,
    retryAfter?: number,
  ): Promise<PlainResponse> {
    const entry = PROBLEMS[kind];
    const problem: Problem = {
      status: entry.status,
      type: problemType(this.settings.problemBaseUri, entry.name),
      name: entry.name,
      title: entry.title,
      detail,
    };
    if (key !== undefined) problem.key = key;
    if (retryAfter !== undefined) problem.retryAfter = retryAfter;
    const build = this.settings.problem;
    if (build === undefined) return problemJson(problem);
    try {
      // Awaited here: a Response whose body fails to read must fall back like a throwing builder.
      return await toPlainProblem(problem, await build(problem));
    } catch (error) {
      // The answer must still go out: the standard problem+json, and the builder's bug logged.
      this.settings.logger.warn(
        `oncely: the problem option threw (${String(error)}); answered with problem+json`,
      );
      return problemJson(problem);
    }
  }

  async conflict(key: string, scope: string, leaseUntil: number): Promise<PlainResponse> {
    const retryAfter = this.retryAfter(leaseUntil);
    this.emit({ type: 'conflict', key, scope, retryAfter });
    return this.problem(
      'inUse',
      `A request with this key is still being processed; retry in ${retryAfter} s.`,
      key,
      retryAfter,
    );
  }

  async mismatch(key: string, scope: string): Promise<PlainResponse> {
    this.emit({ type: 'mismatch', key, scope });
    return this.problem(
      'reused',
      'This key was already used for a request with another method, path or body.',
      key,
    );
  }

  async storeDown(
    key: string,
    scope: string,
    operation: string,
    error: unknown,
  ): Promise<PlainResponse> {
    this.emit({ type: 'store-error', key, scope, operation, error });
    // Nothing ran, so nothing is lost: the client may retry with the same key.
    return this.problem(
      'storeUnavailable',
      'The idempotency store could not be reached; the request was not processed.',
      key,
      1,
    );
  }
}

/** The body of a handler response as one byte array. */
export function joinBody(body: HandlerResponse['body']): Uint8Array {
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body.length === 0) return EMPTY;
  if (body.length === 1) {
    const only = body[0] as Uint8Array | string;
    return typeof only === 'string' ? encoder.encode(only) : only;
  }
  const parts = body.map((part) => (typeof part === 'string' ? encoder.encode(part) : part));
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

/** Polls allowed while waiting, counted rather than timed so a frozen test clock still ends. */
export function waitPolls(settings: Settings): number {
  return settings.wait === undefined
    ? 0
    : Math.ceil(settings.wait.timeoutMs / settings.wait.pollMs);
}

export function sleep(ms: number): Promise<void> {
  // Capped: a longer timer fires after 1 ms. Waking early only polls the store once more.
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, MAX_TIMER_MS)));
}

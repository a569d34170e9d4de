import { PROBLEM_BASE_URI, PROBLEM_TYPES } from '../../protocol.ts';
import type { PlainResponse } from './types.ts';

/**
 * Every problem the helper answers with. The first four are shared with clients through
 * `src/protocol.ts`; the last two only happen on the server.
 */
export const PROBLEMS = {
  // The draft's §2.7: a documented idempotent operation without its key is a 400.
  missing: {
    status: 400,
    name: PROBLEM_TYPES.missing,
    title: 'Idempotency-Key header missing',
  },
  invalid: {
    status: 400,
    name: PROBLEM_TYPES.invalid,
    title: 'Invalid Idempotency-Key header',
  },
  // The draft's §2.7: a request still being processed under this key is a 409 Conflict.
  inUse: {
    status: 409,
    name: PROBLEM_TYPES.inUse,
    title: 'A request with this Idempotency-Key is still being processed',
  },
  // The draft's §2.7: the key reused with another payload is a 422.
  reused: {
    status: 422,
    name: PROBLEM_TYPES.reused,
    title: 'Idempotency-Key reused for another request',
  },
  storeUnavailable: {
    status: 503,
    name: 'idempotency-store-unavailable',
    title: 'Idempotency store unavailable',
  },
  responseTooLarge: {
    status: 500,
    name: 'idempotency-response-too-large',
    title: 'Response too large to store for its Idempotency-Key',
  },
} as const;

export type ProblemName = (typeof PROBLEMS)[keyof typeof PROBLEMS]['name'];

/** What the `problem` option receives: the RFC 9457 fields, and the key when there is one. */
export interface Problem {
  status: number;
  /** Full type URI, such as `https://oncely.dev/problems/idempotency-key-in-use`. */
  type: string;
  /** The last segment of `type`, stable, for an envelope's own error code. */
  name: ProblemName;
  title: string;
  detail: string;
  /** The key as received; absent when there was none or it could not be read. */
  key?: string;
  /** Seconds the client should wait before retrying (409 and 503); also sent as `Retry-After`. */
  retryAfter?: number;
}

/** A response an API's own `problem` builder may return instead of a web `Response`. */
export interface ProblemResponse {
  status?: number;
  headers?: Iterable<readonly [string, string]> | Readonly<Record<string, string>>;
  body?: Uint8Array | string;
}

/** Builds the answer to a problem: the `problem` option. */
export type ProblemBuilder = (
  problem: Problem,
) => Response | ProblemResponse | Promise<Response | ProblemResponse>;

const encoder = new TextEncoder();

/** The default answer: `application/problem+json` with the RFC 9457 members (and `key`). */
export function problemJson(problem: Problem): PlainResponse {
  const body: Record<string, unknown> = {
    type: problem.type,
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
  };
  if (problem.key !== undefined) body.key = problem.key;
  const headers: [string, string][] = [['content-type', 'application/problem+json']];
  if (problem.retryAfter !== undefined) headers.push(['retry-after', String(problem.retryAfter)]);
  return { status: problem.status, headers, body: encoder.encode(JSON.stringify(body)) };
}

/** Turns what a builder returned into a {@link PlainResponse}, adding `Retry-After` if missing. */
export async function toPlainProblem(
  problem: Problem,
  built: Response | ProblemResponse,
): Promise<PlainResponse> {
  let plain: PlainResponse;
  if (built instanceof Response) {
    const headers: [string, string][] = [];
    for (const [name, value] of built.headers) headers.push([name, value]);
    plain = { status: built.status, headers, body: new Uint8Array(await built.arrayBuffer()) };
  } else {
    const headers: [string, string][] = [];
    const source = built.headers ?? [];
    const entries = Symbol.iterator in source ? source : Object.entries(source);
    for (const [name, value] of entries as Iterable<readonly [string, string]>) {
      headers.push([name.toLowerCase(), value]);
    }
    const body = typeof built.body === 'string' ? encoder.encode(built.body) : built.body;
    plain = { status: built.status ?? problem.status, headers, body: body ?? new Uint8Array(0) };
  }
  if (problem.retryAfter !== undefined && !plain.headers.some(([name]) => name === 'retry-after')) {
    plain.headers.push(['retry-after', String(problem.retryAfter)]);
  }
  return plain;
}

/** `base` joined with a problem name. */
export function problemType(base: string, name: ProblemName): string {
  return `${base}${name}`;
}

export { PROBLEM_BASE_URI };

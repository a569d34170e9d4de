/**
 * Load for the server benchmark: autocannon's programmatic API, 64 connections, every request a
 * POST of the same JSON body with an Idempotency-Key set by `setupRequest`: a fresh one each time
 * (`new`), or the same one (`replay`). Bare servers get the same requests, so the load generator
 * does the same work in every case and the ratio is the server's alone.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { PAYLOAD, ROUTE } from './server-config.ts';

/** How keys are sent: a new key on every request, or one key for all (replays). */
export type KeyMode = 'new' | 'replay';

export interface LoadResult {
  /** Mean requests per second over the run. */
  rps: number;
  /** Requests answered. */
  requests: number;
  /** Responses other than 2xx, and socket errors and timeouts. */
  non2xx: number;
  errors: number;
  /** Responses whose body was not `expectBody` (replays that are not the stored response). */
  mismatches: number;
}

interface RequestParams {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}

// autocannon ships no types; this is the slice of its API the benchmark uses.
const autocannon = createRequire(import.meta.url)('autocannon') as (options: {
  url: string;
  connections: number;
  duration: number;
  requests: {
    setupRequest(request: RequestParams): RequestParams;
    onResponse?(status: number, body: string): void;
  }[];
}) => Promise<AutocannonResult>;

export const CONNECTIONS = 64;

/**
 * Runs `seconds` of load against `url` and returns what the server sustained. With `expectBody`,
 * every response body is compared with it.
 */
export async function load(
  url: string,
  mode: KeyMode,
  seconds: number,
  key: string,
  expectBody?: string,
): Promise<LoadResult> {
  const prefix = randomBytes(6).toString('hex');
  let sequence = 0;
  let mismatches = 0;
  // Only when asked: autocannon keeps each body for onResponse, which costs the load generator.
  const check =
    expectBody === undefined
      ? {}
      : {
          onResponse: (_status: number, body: string) => {
            if (body !== expectBody) mismatches++;
          },
        };
  const headers = { 'content-type': 'application/json', 'idempotency-key': key };
  const result = await autocannon({
    url: `${url}${ROUTE}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          method: 'POST',
          path: ROUTE,
          headers:
            mode === 'new' ? { ...headers, 'idempotency-key': `${prefix}-${++sequence}` } : headers,
          body: PAYLOAD,
        }),
        ...check,
      },
    ],
  });
  return {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    mismatches,
  };
}

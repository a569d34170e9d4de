import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createClient } from '../../../src/client/create-client.ts';
import type { ClientOptions } from '../../../src/client/options.ts';

export const BASE = 'http://api.test';

/** One msw server per test file, failing on any request no handler expects. */
export function useServer() {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return server;
}

/** A client with waits short enough for tests (backoff up to a few milliseconds). */
export function testClient(options: ClientOptions = {}) {
  const fast = { backoffBase: 1, backoffCap: 4 };
  const { retry } = options;
  return createClient({
    baseUrl: BASE,
    ...options,
    retry:
      typeof retry === 'number'
        ? { ...fast, limit: retry }
        : retry === false
          ? false
          : { ...fast, ...retry },
  });
}

/** Everything one handler saw, in order. */
export interface Seen {
  method: string;
  key: string | null;
  body: string;
}

export async function record(request: Request, seen: Seen[]): Promise<void> {
  seen.push({
    method: request.method,
    key: request.headers.get('idempotency-key'),
    body: await request.text(),
  });
}

import { expect } from 'vitest';
import type { IdempotencyEvent } from '../../../src/server/core/events.ts';
import type {
  IdempotencyOptions,
  IdempotentHandler,
} from '../../../src/server/core/idempotency.ts';
import { idempotency } from '../../../src/server/core/idempotency.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';

/** A POST (or other method) with an optional key and JSON body. */
export function post(
  key: string | undefined,
  body: unknown = { amount: 100 },
  init: { method?: string; path?: string; headers?: Record<string, string> } = {},
): Request {
  const headers = new Headers(init.headers);
  if (key !== undefined) headers.set('idempotency-key', key);
  const method = init.method ?? 'POST';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  if (hasBody && typeof body !== 'string' && !headers.has('content-type')) {
    headers.set('content-type', 'application/json');
  }
  return new Request(`http://api.test${init.path ?? '/charges'}`, {
    method,
    headers,
    body: hasBody ? (typeof body === 'string' ? body : JSON.stringify(body)) : null,
  });
}

/** A controllable clock. */
export function clock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}

/** A guarded handler that counts its runs and records events. */
export function setup(
  handler: IdempotentHandler = async (request) =>
    Response.json({ received: await request.json() }, { status: 201 }),
  options: IdempotencyOptions = {},
) {
  const events: IdempotencyEvent[] = [];
  let runs = 0;
  const store = options.store ?? memoryStore({ now: options.now });
  const guarded = idempotency({
    scope: () => 'tenant-1',
    store,
    onEvent: (event) => events.push(event),
    ...options,
  })(async (request, context) => {
    runs++;
    return handler(request, context);
  });
  return {
    guarded,
    store,
    events,
    get runs() {
      return runs;
    },
    types: () => events.map((event) => event.type),
  };
}

export async function problemOf(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Record<string, unknown>;
}

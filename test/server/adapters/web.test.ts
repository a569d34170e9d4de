import { describe, expect, it } from 'vitest';
import { idempotency } from '../../../src/server/index.ts';
import { testAdapter } from './behaviour.ts';
import { response, serveFetch } from './serve.ts';

// The web-standard wrapper itself, served by @hono/node-server's fetch bridge.
testAdapter('web idempotency() (@hono/node-server)', (fixture) =>
  serveFetch(
    idempotency({
      ...fixture.options,
      scope: (request) => fixture.scope(request.headers.get('x-api-key') ?? undefined),
    })(async (request) =>
      response(
        await fixture.handle({
          method: request.method,
          header: (name) => request.headers.get(name) ?? undefined,
          body: Buffer.from(await request.arrayBuffer()).toString('latin1'),
        }),
      ),
    ),
  ),
);

describe('web idempotency(): a handler that does not answer with a Response', () => {
  it('frees the key, so a retry runs again instead of getting 409 for the lease', async () => {
    let runs = 0;
    const guarded = idempotency({ scope: () => 't', logger: { warn() {} }, leaseMs: 60_000 })(
      // A forgotten `return`: what reaches the wrapper is not a Response.
      (async () => {
        runs++;
      }) as unknown as () => Promise<Response>,
    );
    const send = () =>
      guarded(
        new Request('http://x.test/charges', {
          method: 'POST',
          headers: { 'idempotency-key': 'no-return' },
          body: 'b',
        }),
      );
    await expect(send()).rejects.toThrow(TypeError);
    await expect(send()).rejects.toThrow(TypeError);
    expect(runs).toBe(2);
  });
});

import { describe, expect, it, onTestFinished } from 'vitest';
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

describe('web idempotency(): an empty answer', () => {
  it('is replayed with the headers it had, no Content-Type added', async () => {
    const server = await serveFetch(
      idempotency({ scope: () => 't', logger: { warn() {} } })(
        async () => new Response(null, { status: 201, headers: { 'x-id': '7' } }),
      ),
    );
    onTestFinished(() => server.close());
    const send = () =>
      fetch(`${server.url}/charges`, {
        method: 'POST',
        headers: { 'idempotency-key': 'empty' },
        body: 'b',
      });
    const first = await send();
    const again = await send();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(again.headers.get('x-id')).toBe('7');
    expect(await again.text()).toBe('');
  });
});

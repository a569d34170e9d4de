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

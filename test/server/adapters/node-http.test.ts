import { createServer } from 'node:http';
import { idempotency } from '../../../src/server/adapters/node-http.ts';
import { testAdapter } from './behaviour.ts';
import { listen, textOf } from './serve.ts';

testAdapter('node:http', async (fixture) => {
  const guarded = idempotency({
    ...fixture.options,
    scope: (req) => fixture.scope(req.headers['x-api-key'] as string | undefined),
    onError: () => {},
  })(async (req, res) => {
    const reply = await fixture.handle({
      method: req.method ?? 'GET',
      header: (name) => req.headers[name] as string | undefined,
      body: await textOf(req),
    });
    res.statusCode = reply.status;
    for (const [name, value] of reply.headers) res.appendHeader(name, value);
    for (const chunk of reply.chunks) res.write(chunk);
    res.end();
  });
  return listen(createServer(guarded));
});

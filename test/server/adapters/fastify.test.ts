import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { idempotency, idempotencyHooks } from '../../../src/server/adapters/fastify.ts';
import { type Fixture, testAdapter } from './behaviour.ts';

function route(fixture: Fixture) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const result = await fixture.handle({
      method: request.method,
      header: (name) => request.headers[name] as string | undefined,
      body:
        typeof request.body === 'string' || request.body instanceof Uint8Array
          ? Buffer.from(request.body).toString('latin1')
          : JSON.stringify(request.body),
    });
    reply.code(result.status);
    for (const [name, value] of result.headers) {
      const previous = reply.getHeader(name);
      reply.header(name, previous === undefined ? value : [previous, value].flat());
    }
    return reply.send(Buffer.concat(result.chunks));
  };
}

function app() {
  const instance = Fastify();
  // Binary bodies reach the handler as a Buffer; JSON is parsed by Fastify itself.
  instance.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer' },
    (_request, body, done) => done(null, body),
  );
  return instance;
}

async function listen(instance: ReturnType<typeof Fastify>) {
  const url = await instance.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => instance.close() };
}

function options(fixture: Fixture) {
  return {
    ...fixture.options,
    scope: (request: FastifyRequest) =>
      fixture.scope(request.headers['x-api-key'] as string | undefined),
  };
}

testAdapter('fastify (plugin)', async (fixture) => {
  const instance = app();
  await instance.register(idempotency(options(fixture)));
  instance.route({ method: ['GET', 'POST', 'PUT'], url: '/charges', handler: route(fixture) });
  return listen(instance);
});

testAdapter('fastify (route hooks)', async (fixture) => {
  const instance = app();
  instance.route({
    method: ['GET', 'POST', 'PUT'],
    url: '/charges',
    ...idempotencyHooks(options(fixture)),
    handler: route(fixture),
  });
  return listen(instance);
});

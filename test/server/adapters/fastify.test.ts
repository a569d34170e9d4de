import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
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

describe('fastify adapter', () => {
  it('captures a stream payload as it goes out, and stores nothing past maxBodyBytes', async () => {
    const instance = Fastify();
    await instance.register(
      idempotency({ scope: () => 't', logger: { warn() {} }, maxBodyBytes: 64 }),
    );
    let runs = 0;
    instance.post('/stream', async (request, reply) => {
      runs++;
      const size = Number(request.headers['x-size']);
      reply.code(201).type('text/plain');
      return reply.send(
        Readable.from(['a'.repeat(size / 2), `${'b'.repeat(size / 2 - 1)}${runs}`]),
      );
    });
    const { url, close } = await listen(instance);
    onTestFinished(close);
    const send = (key: string, size: number) =>
      fetch(`${url}/stream`, {
        method: 'POST',
        headers: { 'idempotency-key': key, 'x-size': String(size), 'content-type': 'text/plain' },
        body: 'x',
      });
    const small = await (await send('small', 20)).text();
    const again = await send('small', 20);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe('text/plain');
    expect(await again.text()).toBe(small);
    expect(runs).toBe(1);

    expect((await (await send('big', 100)).text()).length).toBe(100);
    const big = await send('big', 100);
    expect(big.headers.get('idempotent-replayed')).toBeNull();
    expect((await big.text()).length).toBe(100);
    expect(runs).toBe(3);
  });

  it('survives a stream payload that errors: the reply ends as bare Fastify ends it, the key is released', async () => {
    const instance = Fastify();
    await instance.register(idempotency({ scope: () => 't', logger: { warn() {} } }));
    let runs = 0;
    instance.post('/stream', async (_request, reply) => {
      runs++;
      let n = 0;
      const body = new Readable({
        read() {
          if (n++ < 2) this.push('chunk\n');
          else this.destroy(new Error('db cursor failed'));
        },
      });
      reply.code(201).type('text/plain');
      return reply.send(body);
    });
    const { url, close } = await listen(instance);
    onTestFinished(close);
    const send = () =>
      fetch(`${url}/stream`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body: 'b' })
        .then((response) => response.text())
        .catch((error: unknown) => error);
    expect(await send()).toBeInstanceOf(Error);
    expect(await send()).toBeInstanceOf(Error);
    expect(runs).toBe(2);
  });

  it('replays an empty body without a Content-Type the original did not have', async () => {
    const instance = Fastify();
    await instance.register(idempotency({ scope: () => 't', logger: { warn() {} } }));
    instance.post('/empty', async (_request, reply) => reply.code(201).send());
    const { url, close } = await listen(instance);
    onTestFinished(close);
    const send = () =>
      fetch(`${url}/empty`, { method: 'POST', headers: { 'idempotency-key': 'e' }, body: 'b' });
    const first = await send();
    const again = await send();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(await again.text()).toBe('');
  });

  it('guards the routes of the context it is registered in, not its parent', async () => {
    const instance = Fastify();
    await instance.register(async (child) => {
      await child.register(idempotency({ scope: () => 'a', logger: { warn() {} } }));
      child.post('/guarded', async (request) => ({ scope: request.oncely?.scope }));
    });
    instance.post('/open', async (request) => ({ scope: request.oncely?.scope ?? null }));
    const { url, close } = await listen(instance);
    onTestFinished(close);
    const post = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, { method: 'POST', headers });
    expect((await post('/guarded')).status).toBe(400);
    expect(await (await post('/guarded', { 'idempotency-key': 'k' })).json()).toEqual({
      scope: 'a',
    });
    expect(await (await post('/open')).json()).toEqual({ scope: null });
  });

  it('stores the headers of a stream payload as they were when it was captured, not as a later onSend hook left them', async () => {
    const instance = Fastify();
    await instance.register(idempotency({ scope: () => 't', logger: { warn() {} } }));
    // What a compression plugin registered after oncely does to a stream payload.
    instance.addHook('onSend', async (_request, reply, payload) => {
      if (!(payload instanceof Readable) || reply.getHeader('content-encoding') !== undefined) {
        return payload;
      }
      reply.header('content-encoding', 'gzip');
      return payload.pipe(createGzip());
    });
    let runs = 0;
    instance.post('/stream', async (_request, reply) => {
      runs++;
      reply.code(201).type('text/plain');
      return reply.send(Readable.from(['hello ', `world ${runs}`]));
    });
    const { url, close } = await listen(instance);
    onTestFinished(close);
    const send = () =>
      fetch(`${url}/stream`, { method: 'POST', headers: { 'idempotency-key': 's' }, body: 'b' });
    const first = await send();
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(await first.text()).toBe('hello world 1');
    const again = await send();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-encoding')).toBeNull();
    expect(await again.text()).toBe('hello world 1');
    expect(runs).toBe(1);
  });

  it('tells a JSON body that is a string from the JSON it spells: "5" is not 5', async () => {
    const instance = Fastify();
    await instance.register(idempotency({ scope: () => 't', logger: { warn() {} } }));
    instance.post('/json', async (request) => ({ got: request.body }));
    const { url, close } = await listen(instance);
    onTestFinished(close);
    const send = (body: string) =>
      fetch(`${url}/json`, {
        method: 'POST',
        headers: { 'idempotency-key': 'j', 'content-type': 'application/json' },
        body,
      });
    expect(await (await send('5')).json()).toEqual({ got: 5 });
    expect((await send('"5"')).status).toBe(422);
    const reordered = await send(' 5 ');
    expect(reordered.headers.get('idempotent-replayed')).toBe('true');
  });

  it('replays the stored body as it was stored, not through the onSend hooks that ran before the copy was taken', async () => {
    const instance = Fastify();
    instance.addHook('onRequest', async (_request, reply) => {
      reply.header('access-control-allow-origin', '*');
    });
    // An instance hook runs before the route's hooks: it wrapped the payload oncely stored.
    instance.addHook('onSend', async (_request, _reply, payload) =>
      typeof payload === 'string' || Buffer.isBuffer(payload) ? `{"data":${payload}}` : payload,
    );
    let runs = 0;
    instance.post(
      '/wrapped',
      { ...idempotencyHooks({ scope: () => 't', logger: { warn() {} } }) },
      async (_request, reply) => {
        runs++;
        reply.code(201);
        return { run: runs };
      },
    );
    const { url, close } = await listen(instance);
    onTestFinished(close);
    const send = () =>
      fetch(`${url}/wrapped`, { method: 'POST', headers: { 'idempotency-key': 'w' }, body: 'b' });
    const first = await send();
    expect(await first.text()).toBe('{"data":{"run":1}}');
    const again = await send();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('access-control-allow-origin')).toBe('*');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(await again.text()).toBe('{"data":{"run":1}}');
    expect(runs).toBe(1);
  });
});

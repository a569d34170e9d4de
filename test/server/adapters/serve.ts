import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { memoryStore } from '../../../src/server/index.ts';
import type { Store } from '../../../src/server/stores/store.ts';
import type { Reply, TestServer } from './behaviour.ts';

/** Listens on 127.0.0.1 with a free port; `close` also drops keep-alive connections. */
export function listen(server: Server): Promise<TestServer> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** The whole body of a Node request as text (latin1, so bytes survive as characters). */
export async function textOf(stream: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('latin1');
}

/** A web Response for a reply, its body a stream written chunk by chunk as a handler would. */
export function response(reply: Reply): Response {
  const headers = new Headers();
  for (const [name, value] of reply.headers) headers.append(name, value);
  const chunks = reply.chunks;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return new Response(body, { status: reply.status, headers });
}

/** Serves a fetch handler with @hono/node-server on 127.0.0.1 with a free port. */
export async function serveFetch(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<TestServer> {
  let server!: ReturnType<typeof serve>;
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      }),
  };
}

/**
 * The memory store answering `delayMs` later through a promise, as Redis or PostgreSQL do: the
 * adapters then take their asynchronous paths (a claim decided a turn later, an end held back
 * until the store has the response).
 */
export function delayedStore(delayMs = 5, inner: Store = memoryStore()): Store {
  const later = <T>(call: () => T | Promise<T>) =>
    new Promise<T>((resolve, reject) =>
      setTimeout(() => Promise.resolve().then(call).then(resolve, reject), delayMs),
    );
  return {
    claim: (id, record) => later(() => inner.claim(id, record)),
    takeOver: (id, expected, record) => later(() => inner.takeOver(id, expected, record)),
    renew: (id, owner, leaseUntil) => later(() => inner.renew(id, owner, leaseUntil)),
    complete: (id, owner, record) => later(() => inner.complete(id, owner, record)),
    release: (id, owner) => later(() => inner.release(id, owner)),
    get: (id) => later(() => inner.get(id)),
  };
}

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestServer } from './behaviour.ts';

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

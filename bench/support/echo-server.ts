/**
 * A loopback JSON server for the benchmarks, run in its own process (bench/support/child-server.ts)
 * so that its work does not share the client's event loop. It reads the body and answers a small
 * JSON document; it tells its parent the port over IPC.
 */
import { createServer } from 'node:http';

const reply = Buffer.from('{"ok":true,"id":"bench"}');

const server = createServer((request, response) => {
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
  });
  request.on('end', () => {
    response.writeHead(size > 0 ? 201 : 200, {
      'content-type': 'application/json',
      'content-length': reply.length,
    });
    response.end(reply);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.send?.({ port: address.port });
});
process.on('disconnect', () => server.close(() => process.exit(0)));

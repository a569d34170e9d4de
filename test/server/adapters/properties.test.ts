/**
 * Properties over real HTTP: random key headers, content types and bodies, from two scopes, never
 * crash an adapter, and a replay never carries another scope's response.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { idempotency as expressIdempotency } from '../../../src/server/adapters/express.ts';
import { idempotency as nodeIdempotency } from '../../../src/server/adapters/node-http.ts';
import type { TestServer } from './behaviour.ts';
import { listen } from './serve.ts';

const quiet = { warn: () => {} };
const scopeOf = (req: IncomingMessage) => String(req.headers['x-api-key']);

// Echoes the scope it ran for, so a replay can be checked against the asking scope.
function answer(req: IncomingMessage, res: ServerResponse, body: unknown): void {
  res.statusCode = 201;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ scope: scopeOf(req), body }));
}

const servers: Record<string, () => Promise<TestServer>> = {
  'node:http': () =>
    listen(
      createServer(
        nodeIdempotency({ scope: scopeOf, logger: quiet })(async (req, res) => {
          const chunks: Buffer[] = [];
          for await (const chunk of req) chunks.push(chunk as Buffer);
          answer(req, res, Buffer.concat(chunks).length);
        }),
      ),
    ),
  express: () => {
    const app = express();
    app.use(express.json({ type: ['application/json', 'application/*+json'] }));
    app.post('/p', expressIdempotency({ scope: scopeOf, logger: quiet }), (req, res) =>
      answer(req, res, req.body ?? null),
    );
    // A body express.json() refuses is the client's error, not ours.
    app.use((_error: unknown, _req: unknown, res: express.Response, _next: unknown) => {
      res.status(400).end();
    });
    return listen(createServer(app));
  },
};

// Printable ASCII only: fetch refuses other header bytes before they leave the client.
const keys = fc.oneof(
  fc.constant(undefined),
  { arbitrary: fc.constantFrom('k', '"k"'), weight: 6 },
  fc.string({ unit: fc.constantFrom(...'ab",\\ -_'.split('')), maxLength: 6 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 300 }),
);
const contentTypes = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json',
  'text/plain',
  'application/octet-stream',
  'application/problem+json',
);
// Small domains often, so one key and body come from both scopes.
const bodies = fc.oneof(
  { arbitrary: fc.constantFrom('{"a":1}', '{ "a": 1 }'), weight: 6 },
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 50 }),
  fc.uint8Array({ maxLength: 100 }),
);

describe('adapter properties over HTTP', () => {
  for (const [name, start] of Object.entries(servers)) {
    it(`${name}: any key, body and scope gets a table answer, and never another scope's response`, async () => {
      const server = await start();
      onTestFinished(() => server.close());
      await fc.assert(
        fc.asyncProperty(
          keys,
          contentTypes,
          bodies,
          fc.constantFrom('A', 'B'),
          async (key, type, body, apiKey) => {
            const headers: Record<string, string> = { 'content-type': type, 'x-api-key': apiKey };
            if (key !== undefined) headers['idempotency-key'] = key;
            const response = await fetch(`${server.url}/p`, {
              method: 'POST',
              headers,
              body,
            });
            expect([201, 400, 409, 422]).toContain(response.status);
            const text = await response.text();
            if (response.status === 201) expect(JSON.parse(text).scope).toBe(apiKey);
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});

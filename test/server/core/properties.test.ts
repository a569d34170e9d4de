import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/server/core/engine.ts';
import { idempotency } from '../../../src/server/core/idempotency.ts';
import { memoryStore } from '../../../src/server/stores/memory.ts';

const quiet = { warn: () => {} };
const methods = fc.constantFrom(
  'GET',
  'HEAD',
  'OPTIONS',
  'POST',
  'PATCH',
  'PUT',
  'DELETE',
  'post',
  'CONNECTX',
);
const contentTypes = fc.constantFrom(
  undefined,
  'application/json',
  'application/problem+json; charset=utf-8',
  'text/plain',
  'application/octet-stream',
  ';;;',
);
const keyValues = fc.oneof(
  fc.constant(undefined),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'binary-ascii', minLength: 250, maxLength: 260 }),
  fc.string({ maxLength: 20 }).map((text) => `"${text}"`),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
);
const bodies = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
);

describe('properties', () => {
  it('the engine answers any method, key header and body without throwing', async () => {
    const engine = createEngine<null>({ store: memoryStore(), logger: quiet });
    await fc.assert(
      fc.asyncProperty(
        methods,
        keyValues,
        contentTypes,
        bodies,
        fc.string(),
        async (method, key, type, body, path) => {
          const decision = await engine.begin({
            method,
            path,
            header: (name) =>
              name === 'idempotency-key' ? key : name === 'content-type' ? type : undefined,
            body: () => body,
            request: null,
          });
          if (decision.kind === 'respond') {
            expect([200, 400, 409, 422]).toContain(decision.response.status);
          } else if (decision.kind === 'proceed') {
            // Half the claims complete, half are released: later runs meet both.
            if (decision.claim.key.length % 2 === 0) {
              await decision.claim.complete({ status: 200, headers: [['x', '1']], body: 'ok' });
            } else await decision.claim.release('aborted');
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the web wrapper always answers with an HTTP response', async () => {
    const guarded = idempotency({ scope: () => 's', logger: quiet })(async (request) => {
      await request.arrayBuffer();
      return new Response('handled', { status: 201 });
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'PATCH', 'PUT', 'DELETE', 'GET'),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 30 }), {
          maxKeys: 4,
        }),
        keyValues,
        fc.uint8Array({ maxLength: 100 }),
        async (method, extra, key, body) => {
          const headers = new Headers();
          try {
            for (const [name, value] of Object.entries(extra)) headers.append(name, value);
            if (typeof key === 'string') headers.set('idempotency-key', key);
            else for (const value of key ?? []) headers.append('idempotency-key', value);
          } catch {
            fc.pre(false); // not a header a client can send
          }
          const request = new Request('http://api.test/x', {
            method,
            headers,
            body: method === 'GET' ? null : body,
          });
          const response = await guarded(request);
          expect(response).toBeInstanceOf(Response);
          expect([201, 400, 409, 422]).toContain(response.status);
          await response.arrayBuffer();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('one scope never sees, blocks or rejects another scope’s stored response', async () => {
    const operation = fc.record({
      scope: fc.constantFrom('alice', 'bob', 'a:b', 'a', '3:a:b'),
      key: fc.constantFrom('k', 'b:k', 'x'),
      body: fc.constantFrom('{"n":1}', '{"n":2}'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (operations) => {
        const guarded = idempotency({
          store: memoryStore(),
          scope: (request) => request.headers.get('x-scope') as string,
          logger: quiet,
        })(async (request) => {
          const text = await request.text();
          return new Response(`${request.headers.get('x-scope')}|${text}`, { status: 201 });
        });
        // The model: the first body seen per scope and key.
        const first = new Map<string, string>();
        for (const { scope, key, body } of operations) {
          const response = await guarded(
            new Request('http://api.test/op', {
              method: 'POST',
              headers: {
                'idempotency-key': key,
                'x-scope': scope,
                'content-type': 'application/json',
              },
              body,
            }),
          );
          const text = await response.text();
          const id = JSON.stringify([scope, key]);
          const seen = first.get(id);
          if (seen === undefined) {
            first.set(id, body);
            expect(response.status).toBe(201);
            expect(response.headers.get('idempotent-replayed')).toBeNull();
            expect(text).toBe(`${scope}|${body}`);
          } else if (seen === body) {
            expect(response.headers.get('idempotent-replayed')).toBe('true');
            expect(text).toBe(`${scope}|${body}`);
          } else {
            expect(response.status).toBe(422);
            expect(text).not.toContain('|');
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

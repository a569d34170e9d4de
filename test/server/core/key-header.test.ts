import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../../src/client/create-client.ts';
import { InvalidKeyError } from '../../../src/key/invalid-key-error.ts';
import { isValidKey } from '../../../src/key/validate.ts';
import { formatKeyHeader, parseKeyHeader } from '../../../src/protocol.ts';
import { post, setup } from './helpers.ts';

// Keys near the rules' edges: printable ASCII heavy on the characters the header form cares about
// (`"`, `\`, `,`, `;`, space), plus control and non-ASCII characters, up to past 255.
const edgy = fc.constantFrom(
  '"',
  '\\',
  ',',
  ';',
  ' ',
  '\t',
  '=',
  'a',
  '~',
  '!',
  '\u00a0',
  'é',
  '\x7f',
);
const keyLike = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
  fc.array(edgy, { maxLength: 12 }).map((chars) => chars.join('')),
  fc
    .tuple(fc.integer({ min: 250, max: 258 }), fc.constantFrom('x', ',', '"'))
    .map(([n, c]) => c.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

describe('the client and the server agree on keys', () => {
  it('a key the client sends is taken by the server as is; a key it refuses is never sent', async () => {
    await fc.assert(
      fc.asyncProperty(keyLike, fc.constantFrom('token', 'sf-string'), async (key, keyFormat) => {
        const server = setup(async () => new Response('done', { status: 201 }));
        const client = createClient({
          keyFormat,
          retry: false,
          fetch: (input, init) => server.guarded(new Request(input, init)),
        });
        let error: unknown;
        const response = await client
          .post('http://api.test/charges', { json: { a: 1 }, idempotencyKey: key })
          .catch((caught: unknown) => {
            error = caught;
          });
        if (isValidKey(key)) {
          expect(error).toBeUndefined();
          expect(response?.status).toBe(201);
          expect(server.events.find((event) => event.type === 'claim')?.key).toBe(key);
        } else {
          expect(error).toBeInstanceOf(InvalidKeyError);
          expect(server.runs).toBe(0);
          expect(server.events).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a header value the server accepts is accepted by the client as the same key', async () => {
    const value = fc.oneof(
      keyLike,
      keyLike.map((key) => formatKeyHeader(key, 'sf-string')),
      keyLike.map((key) => `${formatKeyHeader(key, 'sf-string')};a=1`),
    );
    await fc.assert(
      fc.asyncProperty(value, async (header) => {
        let request: Request;
        try {
          request = post(undefined, { a: 1 }, { headers: { 'idempotency-key': header } });
        } catch {
          return; // not a header value fetch can carry at all
        }
        const server = setup(async () => new Response('done', { status: 201 }));
        const answer = await server.guarded(request);
        const taken = server.events.find((event) => event.type === 'claim')?.key;
        let sent: string | undefined;
        const client = createClient({
          retry: false,
          fetch: async (input, init) => {
            const parsed = parseKeyHeader(
              new Request(input, init).headers.get('idempotency-key') ?? '',
            );
            if (parsed.ok) sent = parsed.key;
            return new Response('ok');
          },
        });
        const call = client.post('http://api.test/charges', {
          json: { a: 1 },
          headers: { 'idempotency-key': header },
        });
        if (answer.status === 201) {
          await call;
          expect(sent).toBe(taken);
        } else {
          expect(answer.status).toBe(400);
          await expect(call).rejects.toBeInstanceOf(InvalidKeyError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseKeyHeader', () => {
  it('ignores parameters on the sf-string (an RFC 8941 Item may carry them)', () => {
    expect(parseKeyHeader('"abc";a=1')).toEqual({ ok: true, key: 'abc' });
    expect(parseKeyHeader('"abc";a;b="x,y";c=?0;d=:YQ==:;e=-1.5;f=tok/x')).toEqual({
      ok: true,
      key: 'abc',
    });
  });

  it('refuses what is not parameters after the closing quote', () => {
    for (const value of ['"abc" ;a=1', '"abc";A=1', '"abc"x', '"abc";a="\\q"', '"abc";=1']) {
      expect(parseKeyHeader(value).ok, value).toBe(false);
    }
    expect(parseKeyHeader('"abc";a=1, "def"')).toEqual({
      ok: false,
      reason: 'more than one Idempotency-Key value',
    });
  });

  it('strips only SP and HTAB around the value, not a non-ASCII no-break space', async () => {
    expect(parseKeyHeader(' \tabc\t ')).toEqual({ ok: true, key: 'abc' });
    expect(parseKeyHeader('\t"abc" ')).toEqual({ ok: true, key: 'abc' });
    expect(parseKeyHeader('abc\u00a0').ok).toBe(false);
    expect(parseKeyHeader('"abc"\u00a0').ok).toBe(false);
    expect(parseKeyHeader('"a\tb"')).toEqual({ ok: true, key: 'a\tb' }); // then refused as a key
    expect(isValidKey('a\tb')).toBe(false);
    // Over the wire: the latin-1 byte 0xA0 after a key is a malformed key, not the key `abc`.
    const server = setup();
    const answer = await server.guarded(post('abc\u00a0'));
    expect(answer.status).toBe(400);
  });

  it('reads a long run of spaces in linear time', () => {
    const started = performance.now();
    parseKeyHeader(`${' '.repeat(20_000)}x${' '.repeat(20_000)}y`);
    parseKeyHeader(`"a"${';a=b'.repeat(5_000)} `);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  fingerprint,
  isJsonContentType,
} from '../../../src/server/core/fingerprint.ts';
import { recordId } from '../../../src/server/core/record-id.ts';
import { post, setup } from './helpers.ts';

const base = { method: 'POST', path: '/charges', contentType: 'application/json' };

describe('fingerprint', () => {
  it('ignores key order and whitespace in JSON bodies, at every depth', () => {
    const a = fingerprint({ ...base, body: '{"a":1,"b":{"c":[1,{"x":1,"y":2}],"d":null}}' });
    const b = fingerprint({
      ...base,
      body: ' {\n "b": { "d": null, "c": [1, {"y":2, "x":1}] },\n "a": 1 }',
    });
    expect(a).toBe(b);
  });

  it('keeps array order and values significant', () => {
    const a = fingerprint({ ...base, body: '{"a":[1,2]}' });
    expect(fingerprint({ ...base, body: '{"a":[2,1]}' })).not.toBe(a);
    expect(fingerprint({ ...base, body: '{"a":[1,"2"]}' })).not.toBe(a);
  });

  it('treats +json types as JSON, and other types by their bytes', () => {
    expect(isJsonContentType('application/merge-patch+json; charset=utf-8')).toBe(true);
    expect(isJsonContentType('Application/JSON')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
    const plain = { ...base, contentType: 'text/plain' };
    expect(fingerprint({ ...plain, body: '{"a":1,"b":2}' })).not.toBe(
      fingerprint({ ...plain, body: '{"b":2,"a":1}' }),
    );
  });

  it('compares unparseable JSON by its bytes', () => {
    expect(fingerprint({ ...base, body: '{"a":' })).toBe(
      fingerprint({ ...base, body: new TextEncoder().encode('{"a":') }),
    );
    expect(fingerprint({ ...base, body: '{"a":' })).not.toBe(
      fingerprint({ ...base, body: '{"a": ' }),
    );
  });

  it('gives the same print for a parsed body as for its text', () => {
    expect(fingerprint({ ...base, body: undefined, json: { b: 1, a: [true] } })).toBe(
      fingerprint({ ...base, body: '{"a":[true],"b":1}' }),
    );
  });

  it('tells method, path and query apart', () => {
    const print = fingerprint({ ...base, body: '{}' });
    expect(fingerprint({ ...base, method: 'PATCH', body: '{}' })).not.toBe(print);
    expect(fingerprint({ ...base, path: '/charges?a=1', body: '{}' })).not.toBe(print);
    expect(fingerprint({ ...base, method: 'post', body: '{}' })).toBe(print);
  });

  it('survives JSON nested deeper than the stack', () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    expect(fingerprint({ ...base, body: deep })).toMatch(/^[\w-]{43}$/);
  });

  it('sorts keys the same way canonicalJson documents', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 1, e: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"e":2,"f":1}]},"b":1}',
    );
  });

  it('writes every JSON value as the plain recursive sort does, sorted input or not', () => {
    // The reference: the definition, without canonicalJson's fast path for sorted objects.
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object).sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${reference(object[key])}`).join(',')}}`;
    };
    const sortedCopy = (value: unknown): unknown => JSON.parse(reference(value));
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
        expect(canonicalJson(sortedCopy(value))).toBe(reference(value));
      }),
      { numRuns: 500 },
    );
    // Integer-like keys: property order puts 9 before 10, string order does not.
    expect(canonicalJson({ 9: 'a', 10: 'b' })).toBe('{"10":"b","9":"a"}');
  });

  describe('a body the framework parsed with values JSON.parse never makes', () => {
    // A parser with a reviver (dates), or json-bigint for integers beyond 2^53: each such body
    // printed alike, so a key reused with another date or amount replayed the other's response.
    const parsed = (json: unknown) => fingerprint({ ...base, body: undefined, json });

    it('writes what toJSON gives, as JSON.stringify does: a Date by its time', () => {
      expect(canonicalJson({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
      expect(parsed({ when: new Date(1) })).not.toBe(parsed({ when: new Date(2) }));
      expect(parsed([new Date(1)])).not.toBe(parsed([new Date(2)]));
      expect(parsed({ b: new Date(0), a: 1 })).toBe(
        fingerprint({ ...base, body: '{"a":1,"b":"1970-01-01T00:00:00.000Z"}' }),
      );
    });

    it('tells BigInts apart, and prints one as the number its text would be', () => {
      expect(parsed({ to: 9007199254740993n })).not.toBe(parsed({ to: 9007199254740992n }));
      expect(parsed(9007199254740993n)).not.toBe(parsed(9007199254740992n));
      expect(parsed({ n: [9007199254740993n, 5n] })).toBe(
        fingerprint({ ...base, body: '{"n":[9007199254740993,5]}' }),
      );
    });

    it('never gives two bodies it cannot write one print', () => {
      const broken = (id: number) => ({
        id,
        toJSON() {
          throw new Error('cannot');
        },
      });
      expect(parsed(broken(1))).not.toBe(parsed(broken(2)));
    });
  });

  describe('numbers a double cannot hold', () => {
    const print = (body: string) => fingerprint({ ...base, body });

    it('tells apart integers above 2^53 that round to the same double', () => {
      expect(print('{"to":9007199254740993}')).not.toBe(print('{"to":9007199254740992}'));
      expect(print('{"to":-9007199254740993}')).not.toBe(print('{"to":-9007199254740992}'));
      expect(print('9007199254740993')).not.toBe(print('9007199254740992'));
    });

    it('tells apart numbers beyond the range of a double', () => {
      expect(print('{"to":1e400}')).not.toBe(print('{"to":2e400}'));
      expect(print('{"to":1e400}')).not.toBe(print('{"to":null}'));
      expect(print('{"to":1e-400}')).not.toBe(print('{"to":2e-400}'));
      expect(print('{"to":1e-400}')).not.toBe(print('{"to":0}'));
    });

    it('tells apart decimals with more digits than a double keeps', () => {
      expect(print('{"x":123456789.0123456789012}')).not.toBe(
        print('{"x":123456789.0123456789013}'),
      );
    });

    it('still ignores key order and whitespace around them', () => {
      expect(print('{"b":9007199254740993,"a":1}')).toBe(print('{ "a":1, "b":9007199254740993 }'));
      expect(print('{"a":[{"z":1e400,"y":[123456789.0123456789012]}]}')).toBe(
        print('{ "a": [ { "y": [ 123456789.0123456789012 ], "z": 1e400 } ] }'),
      );
    });

    it('gives one print to one value, however it is written', () => {
      expect(print('{"n":9007199254740993}')).toBe(print('{"n":9007199254740993.000}'));
      expect(print('{"n":9007199254740993}')).toBe(print('{"n":9.007199254740993e15}'));
      expect(print('{"n":1e400}')).toBe(print('{"n":10E+399}'));
      // Numbers a double holds exactly keep their usual print next to one that it does not.
      expect(print('{"big":9007199254740993,"p":1.50,"q":1e2}')).toBe(
        print('{"big":9007199254740993,"p":1.5,"q":100}'),
      );
      expect(print('{"n":1234567890123456,"z":-0e400}')).toBe(
        fingerprint({ ...base, body: undefined, json: { n: 1234567890123456, z: 0 } }),
      );
      // Digits inside a string may take the exact parse too; the print is the same.
      expect(print('{"memo":"ref:12345678901234567e999","n":1.50}')).toBe(
        fingerprint({
          ...base,
          body: undefined,
          json: { n: 1.5, memo: 'ref:12345678901234567e999' },
        }),
      );
    });

    it('gives two integers one print only when they are equal', () => {
      fc.assert(
        fc.property(
          fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
          fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
          (a, b) => {
            const same = print(`{"k":"v","n":[${a}]}`) === print(`{"n":[${b}],"k":"v"}`);
            expect(same).toBe(a === b);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('writes a raw JSON value as its number, never as an object', () => {
      const rawJSON = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;
      const big = rawJSON('9007199254740993');
      expect(canonicalJson({ a: 1, b: big })).toBe('{"a":1,"b":9007199254740993}');
      expect(canonicalJson({ b: big, a: 1 })).toBe('{"a":1,"b":9007199254740993}');
      expect(canonicalJson({ b: [big, { d: big, c: 'x' }], a: 1 })).toBe(
        '{"a":1,"b":[9007199254740993,{"c":"x","d":9007199254740993}]}',
      );
      expect(canonicalJson(big)).toBe('9007199254740993');
      // A plain object with that key is an object.
      expect(canonicalJson({ rawJSON: '1' })).toBe('{"rawJSON":"1"}');
    });
  });

  it('lets a retry whose client re-serialised the payload replay', async () => {
    const t = setup();
    await (
      await t.guarded(
        new Request('http://api.test/charges', {
          method: 'POST',
          headers: { 'idempotency-key': 'k', 'content-type': 'application/json' },
          body: '{"amount":100,"currency":"eur"}',
        }),
      )
    ).text();
    const retry = await t.guarded(
      new Request('http://other-host.test/charges', {
        method: 'POST',
        headers: { 'idempotency-key': 'k', 'content-type': 'application/json; charset=utf-8' },
        body: '{ "currency": "eur", "amount": 100 }',
      }),
    );
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(t.runs).toBe(1);
  });
});

describe('scope', () => {
  it('builds ids no scope can forge for another', () => {
    expect(recordId('a:b', 'c')).not.toBe(recordId('a', 'b:c'));
    expect(recordId('1:a', 'b')).not.toBe(recordId('1', 'a:b'));
    expect(recordId('', '3:abc:d')).not.toBe(recordId('abc', 'd'));
  });

  it('keeps one scope from replaying, blocking or rejecting another scope’s key', async () => {
    let runs = 0;
    const { idempotency } = await import('../../../src/server/core/idempotency.ts');
    const guarded = idempotency({ scope: (request) => request.headers.get('x-tenant') ?? '' })(
      async (request) => {
        runs++;
        return new Response(`for ${request.headers.get('x-tenant')}`, { status: 201 });
      },
    );
    const as = (tenant: string, body: unknown) =>
      post('shared-key', body, { headers: { 'x-tenant': tenant } });
    expect(await (await guarded(as('alice', { a: 1 }))).text()).toBe('for alice');
    // Same key, other body, other tenant: not a 422, and never alice's response.
    const bob = await guarded(as('bob', { b: 2 }));
    expect(bob.status).toBe(201);
    expect(await bob.text()).toBe('for bob');
    expect(await (await guarded(as('alice', { a: 1 }))).text()).toBe('for alice');
    expect(runs).toBe(2);
  });

  it('warns once when no scope is given, through the logger', async () => {
    const { createEngine } = await import('../../../src/server/core/engine.ts');
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message) };
    createEngine({ logger });
    createEngine({ logger });
    createEngine({ logger, scope: () => 's' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('scope');
    const other: string[] = [];
    createEngine({ logger: { warn: (message) => other.push(message) }, scope: () => 's' });
    expect(other).toEqual([]);
  });
});

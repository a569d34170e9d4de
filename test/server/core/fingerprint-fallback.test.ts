import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Node before 21 has neither JSON.parse source text access nor JSON.rawJSON: a body that may hold
// a number a double does not keep is then compared by its bytes, never by its rounded value.

type Module = typeof import('../../../src/server/core/fingerprint.ts');
const json = JSON as unknown as Record<string, unknown>;
const saved = { rawJSON: json.rawJSON, isRawJSON: json.isRawJSON };
let fingerprint: Module['fingerprint'];

beforeAll(async () => {
  delete json.rawJSON;
  delete json.isRawJSON;
  vi.resetModules();
  ({ fingerprint } = await import('../../../src/server/core/fingerprint.ts'));
});

afterAll(() => {
  Object.assign(json, saved);
  vi.resetModules();
});

const base = { method: 'POST', path: '/charges', contentType: 'application/json' };
const print = (body: string) => fingerprint({ ...base, body });

describe('fingerprint without JSON.rawJSON', () => {
  it('still tells apart numbers a double rounds together', () => {
    expect(print('{"to":9007199254740993}')).not.toBe(print('{"to":9007199254740992}'));
    expect(print('{"to":1e400}')).not.toBe(print('{"to":2e400}'));
    expect(print('{"x":123456789.0123456789012}')).not.toBe(print('{"x":123456789.0123456789013}'));
  });

  it('compares such bodies by their bytes, and others as before', () => {
    expect(print('{"b":9007199254740993,"a":1}')).toBe(
      fingerprint({ ...base, contentType: 'text/plain', body: '{"b":9007199254740993,"a":1}' }),
    );
    expect(print('{"b":2,"a":1.50}')).toBe(print('{ "a": 1.5, "b": 2 }'));
  });
});

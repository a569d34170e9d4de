import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOncelyError } from '../src/errors/oncely-error.ts';
import {
  assertValidKey,
  hashKey,
  InvalidKeyError,
  keyFrom,
  MAX_KEY_LENGTH,
  newKey,
  window,
} from '../src/key/index.ts';
import { randomV4 } from '../src/key/random-v4.ts';
import { formatKeyHeader, parseKeyHeader } from '../src/protocol.ts';

describe('newKey', () => {
  it('draws distinct v4 UUIDs by default', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => newKey()));
    expect(keys.size).toBe(1000);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab]/);
  });

  it('draws v4 UUIDs from getRandomValues where randomUUID is missing (insecure contexts)', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => randomV4()));
    expect(keys.size).toBe(1000);
    for (const key of keys) {
      expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('draws time-ordered v7 UUIDs on request', () => {
    const a = newKey({ version: 'v7' });
    const b = newKey({ version: 'v7' });
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(a < b).toBe(true);
  });
});

describe('key validation', () => {
  it.each([
    ['', 'empty'],
    ['a b', 'space'],
    ['é', 'non-ASCII'],
    ['tab\there', 'control character'],
    ['x'.repeat(MAX_KEY_LENGTH + 1), 'too long'],
  ])('refuses %j (%s) with a typed error', (key) => {
    expect(() => assertValidKey(key)).toThrow(InvalidKeyError);
    try {
      assertValidKey(key);
    } catch (error) {
      expect(isOncelyError(error, 'INVALID_KEY')).toBe(true);
    }
  });

  it('accepts 255 printable characters', () => {
    expect(assertValidKey('~'.repeat(MAX_KEY_LENGTH))).toHaveLength(MAX_KEY_LENGTH);
  });

  it('refuses non-strings', () => {
    expect(() => assertValidKey(42)).toThrow(InvalidKeyError);
  });
});

describe('keyFrom', () => {
  it('joins readable parts', () => {
    expect(keyFrom('checkout', 'ord_123', 2)).toBe('checkout:ord_123:2');
  });

  it('is stable and injective: a part never swallows the separator', () => {
    expect(keyFrom('a:b')).not.toBe(keyFrom('a', 'b'));
    expect(keyFrom('a', '')).not.toBe(keyFrom('a'));
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        (a, b) => {
          const same = a.length === b.length && a.every((part, i) => part === b[i]);
          expect(keyFrom('p', ...a) === keyFrom('p', ...b)).toBe(same);
        },
      ),
    );
  });

  it('encodes what a key may not hold, readably', () => {
    expect(keyFrom('note', 'café au lait')).toBe('note:caf%C3%A9%20au%20lait');
  });

  it('refuses keys over the limit and bad parts', () => {
    expect(() => keyFrom('x'.repeat(300))).toThrow(InvalidKeyError);
    expect(() => keyFrom(Number.NaN)).toThrow(InvalidKeyError);
    expect(() => keyFrom({} as never)).toThrow(InvalidKeyError);
  });

  it('keeps a window readable, as documented, and apart from a string that reads the same', () => {
    const day = window('1d', Date.UTC(2026, 10, 23));
    expect(keyFrom('payout', 'acct_9', day)).toBe('payout:acct_9:1d@2026-11-23');
    expect(keyFrom('reminder', 'u_1', window('1h', Date.UTC(2026, 10, 23, 13, 5)))).toBe(
      'reminder:u_1:1h@2026-11-23T1300Z',
    );
    expect(keyFrom('1d@2026-11-23')).toBe('1d%402026-11-23');
    expect(keyFrom(day)).not.toBe(keyFrom(String(day)));
  });

  it('refuses a part with a lone surrogate with InvalidKeyError, not a URIError', () => {
    expect(() => keyFrom('a\ud800')).toThrow(InvalidKeyError);
    expect(() => keyFrom('ok', '\udc00b')).toThrow(/part 1/);
  });

  it('hashes only when asked', async () => {
    const key = keyFrom('transfer', 'DE89370400440532013000');
    expect(key).toContain('DE89370400440532013000');
    expect(await hashKey(key)).toMatch(/^sha256-[0-9a-f]{64}$/);
  });

  it('says what hashKey needs where crypto.subtle is missing (a page on plain http)', async () => {
    const subtle = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(crypto), 'subtle');
    Object.defineProperty(crypto, 'subtle', { value: undefined, configurable: true });
    try {
      await expect(hashKey('k')).rejects.toThrow(/crypto\.subtle \(HTTPS or localhost\)/);
    } finally {
      delete (crypto as { subtle?: unknown }).subtle;
    }
    expect(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(crypto), 'subtle')).toEqual(
      subtle,
    );
    expect(await hashKey('k')).toMatch(/^sha256-/);
  });
});

describe('window', () => {
  const monday = Date.UTC(2026, 10, 23, 13, 7, 9);
  it('buckets days, hours and minutes in UTC', () => {
    expect(String(window('1d', monday))).toBe('1d@2026-11-23');
    expect(String(window('1h', monday))).toBe('1h@2026-11-23T1300Z');
    expect(String(window('15m', monday))).toBe('15m@2026-11-23T1300Z');
    expect(String(window('10s', monday))).toBe('10s@2026-11-23T130700Z');
  });

  it('starts weeks on Monday', () => {
    const sunday = Date.UTC(2026, 10, 29, 23, 59);
    expect(String(window('1w', sunday))).toBe('1w@2026-11-23');
    expect(String(window('1w', Date.UTC(2026, 10, 30)))).toBe('1w@2026-11-30');
  });

  it('gives one key inside a window and another in the next', () => {
    const a = keyFrom('payout', 'acct_9', window('1d', monday));
    const b = keyFrom('payout', 'acct_9', window('1d', monday + 3_600_000));
    const c = keyFrom('payout', 'acct_9', window('1d', monday + 86_400_000));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it('refuses an instant outside years 0000 to 9999 with InvalidKeyError (labels would collide)', () => {
    expect(() => window('1d', 1e20)).toThrow(InvalidKeyError);
    expect(() => window('999999w', -8.64e15)).toThrow(InvalidKeyError);
    expect(() => window('1d', Number.NaN)).toThrow(InvalidKeyError);
    expect(() => window('1d', new Date(Number.NaN))).toThrow(InvalidKeyError);
    // Microseconds by mistake: year 55,000, where each label would cover a whole month.
    expect(() => window('1d', Date.UTC(2026, 10, 23) * 1000)).toThrow(InvalidKeyError);
    expect(String(window('1d', Date.UTC(9999, 11, 31, 23)))).toBe('1d@9999-12-31');
    expect(String(window('1h', -62_167_219_200_000))).toBe('1h@0000-01-01T0000Z');
    expect(() => window('1h', -62_167_219_200_001)).toThrow(InvalidKeyError);
  });

  it('starts the ISO week across a year boundary on the Monday before', () => {
    expect(String(window('1w', Date.UTC(2027, 0, 1)))).toBe('1w@2026-12-28');
    expect(String(window('1w', Date.UTC(2026, 11, 27, 23, 59, 59)))).toBe('1w@2026-12-21');
    expect(String(window('1w', Date.UTC(1969, 11, 31)))).toBe('1w@1969-12-29');
  });

  it('refuses sizes it cannot read', () => {
    expect(() => window('1y', monday)).toThrow(InvalidKeyError);
    expect(() => window('0d', monday)).toThrow(InvalidKeyError);
  });
});

describe('the Idempotency-Key header', () => {
  it('reads the plain and the sf-string form as the same key', () => {
    expect(parseKeyHeader('abc')).toEqual({ ok: true, key: 'abc' });
    expect(parseKeyHeader('"abc"')).toEqual({ ok: true, key: 'abc' });
    expect(formatKeyHeader('abc', 'sf-string')).toBe('"abc"');
  });

  it('refuses several values', () => {
    expect(parseKeyHeader('a, b').ok).toBe(false);
    expect(parseKeyHeader('"a", "b"').ok).toBe(false);
    expect(parseKeyHeader('"a').ok).toBe(false);
  });

  it('round-trips every valid key in both forms', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{1,40}$/), (key) => {
        for (const format of ['token', 'sf-string'] as const) {
          expect(parseKeyHeader(formatKeyHeader(key, format))).toEqual({ ok: true, key });
        }
      }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordId } from '../../../src/server/core/record-id.ts';

/** What a store that keeps ids as UTF-8 (Redis, SQLite, PostgreSQL) sees of an id. */
const asUtf8 = (id: string) => Buffer.from(id, 'utf8').toString('hex');

describe('recordId', () => {
  it('keeps scopes apart even through UTF-8, lone surrogates included', () => {
    expect(asUtf8(recordId('\ud800', 'k'))).not.toBe(asUtf8(recordId('\udbff', 'k')));
    expect(asUtf8(recordId('t\ud800', 'k'))).not.toBe(asUtf8(recordId('t\ufffd', 'k')));
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.string({ minLength: 1, maxLength: 8 }),
        (a, b, key) => {
          fc.pre(a !== b);
          expect(asUtf8(recordId(a, key))).not.toBe(asUtf8(recordId(b, key)));
        },
      ),
    );
  });

  it('writes a scope with a NUL in hex, which every store can hold', () => {
    expect(recordId('a\u0000', 'k')).toBe('2!00610000:k');
    expect(recordId('a\u0000', 'k')).not.toBe(recordId('a', 'k'));
  });

  it('writes a well-formed scope as it is', () => {
    expect(recordId('tenant-1', 'k')).toBe('8:tenant-1:k');
    expect(recordId('zoë', 'k')).toBe('3:zoë:k');
  });
});

import { describe, expect, it } from 'vitest';
import { backgroundDelay } from '../../src/client/operations/background-delay.ts';

describe('backgroundDelay', () => {
  it('doubles from 1 s and never exceeds 5 min by default', () => {
    const low = (round: number) => backgroundDelay(round, {}, () => 0);
    const high = (round: number) => backgroundDelay(round, {}, () => 1);
    expect([1, 2, 3, 4].map(low)).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map(high)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(high(9)).toBe(256_000);
    expect(high(10)).toBe(300_000);
    expect(high(1_000)).toBe(300_000);
    expect(low(1_000)).toBe(150_000);
  });

  it('follows the given base and cap', () => {
    expect(backgroundDelay(3, { base: 10, cap: 25 }, () => 1)).toBe(25);
    expect(backgroundDelay(1, { base: 10, cap: 25 }, () => 0.5)).toBe(7.5);
  });
});

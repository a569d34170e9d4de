import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../src/retry/budget.ts';

describe('RetryBudget', () => {
  it('refuses a cost of 0, which acquire() could not tell from "cannot pay"', () => {
    // acquire() answers 0 for a refusal: with retryCost 0 every retry was refused, 500 tokens left.
    expect(() => new RetryBudget({ retryCost: 0 })).toThrow(RangeError);
    expect(() => new RetryBudget({ timeoutCost: 0 })).toThrow(RangeError);
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      expect(() => new RetryBudget({ capacity: bad })).toThrow(RangeError);
      expect(() => new RetryBudget({ retryCost: bad })).toThrow(RangeError);
      expect(() => new RetryBudget({ successRefund: bad })).toThrow(RangeError);
    }
  });

  it('takes what a retry costs and refuses once it cannot pay', () => {
    const budget = new RetryBudget({
      capacity: 12,
      retryCost: 5,
      timeoutCost: 10,
      successRefund: 0,
    });
    expect(budget.acquire('timeout')).toBe(10);
    expect(budget.acquire('other')).toBe(0);
    budget.release(10);
    expect(budget.available).toBe(12);
    budget.release(); // a refund of 0 is allowed: nothing given back
    expect(budget.available).toBe(12);
    expect(new RetryBudget({ capacity: 0 }).acquire('other')).toBe(0);
  });
});

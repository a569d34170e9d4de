/** Options of {@link RetryBudget}; the defaults are AWS SDK v3's retry quota. */
export interface RetryBudgetOptions {
  /**
   * Tokens in a full bucket.
   * @default 500
   */
  capacity?: number;
  /**
   * Tokens a retry after an error or a retryable status takes; more than 0 (to make retries
   * free, pass `budget: false`).
   * @default 5
   */
  retryCost?: number;
  /**
   * Tokens a retry after a timeout takes: timeouts hint at an overloaded server, so they cost more.
   * More than 0.
   * @default 10
   */
  timeoutCost?: number;
  /**
   * Tokens a call that succeeds at its first attempt gives back.
   * @default 1
   */
  successRefund?: number;
}

/**
 * A token bucket shared by every call of one client, so that an outage does not turn into a retry
 * storm (issue 2; the semantics of AWS SDK v3's retry quota): each retry takes tokens, a call that
 * succeeds after retrying gives back what its last retry took, a call that succeeds at once gives
 * back one token, and when the bucket cannot pay for a retry the failure surfaces at once.
 *
 * @example
 * ```ts
 * const budget = new RetryBudget({ capacity: 100 });
 * const a = createClient({ budget });
 * const b = createClient({ budget }); // shares the same bucket
 * ```
 */
export class RetryBudget {
  declare readonly capacity: number;
  declare readonly retryCost: number;
  declare readonly timeoutCost: number;
  declare readonly successRefund: number;
  #available: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.capacity = checked('capacity', options.capacity ?? 500, 0);
    // acquire() answers 0 for "cannot pay": a cost of 0 would refuse every retry.
    this.retryCost = checked('retryCost', options.retryCost ?? 5, Number.MIN_VALUE);
    this.timeoutCost = checked('timeoutCost', options.timeoutCost ?? 10, Number.MIN_VALUE);
    this.successRefund = checked('successRefund', options.successRefund ?? 1, 0);
    this.#available = this.capacity;
  }

  /** Tokens left in the bucket. */
  get available(): number {
    return this.#available;
  }

  /**
   * Takes the cost of one retry, and returns it, or returns 0 and takes nothing when the bucket
   * cannot pay (then the caller must not retry).
   */
  acquire(kind: 'timeout' | 'other'): number {
    const cost = kind === 'timeout' ? this.timeoutCost : this.retryCost;
    if (this.#available < cost) return 0;
    this.#available -= cost;
    return cost;
  }

  /** Records a success: gives back `tokens` (what the last retry took), or the success refund. */
  release(tokens?: number): void {
    const refund = tokens === undefined || tokens === 0 ? this.successRefund : tokens;
    this.#available = Math.min(this.capacity, this.#available + refund);
  }
}

function checked(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    const least = min === 0 ? 'at least 0' : 'more than 0';
    throw new RangeError(`RetryBudget ${name} must be a finite number ${least}, got ${value}`);
  }
  return value;
}

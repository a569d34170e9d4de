import { MAX_TIMER_MS } from '../../timer-limit.ts';

/** What the shared renewal timer needs of a claim. */
export interface Renewable {
  leaseUntil: number;
  renew(): void;
}

/**
 * One timer per engine renews every claim whose handler has run a third of its lease, instead of
 * a timer per request: a request only joins a set, and the interval, started by the first claim,
 * stops itself at a tick that finds nothing left to renew.
 */
export class Renewals {
  readonly #claims = new Set<Renewable>();
  readonly #leaseMs: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(leaseMs: number, now: () => number) {
    this.#leaseMs = leaseMs;
    this.#now = now;
  }

  add(claim: Renewable): void {
    this.#claims.add(claim);
    if (this.#timer !== undefined) return;
    // Capped: Node runs a longer timer (leaseMs past 75 days) every millisecond instead.
    const every = Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(this.#leaseMs / 3)));
    this.#timer = setInterval(() => this.#tick(), every);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  delete(claim: Renewable): void {
    this.#claims.delete(claim);
  }

  get size(): number {
    return this.#claims.size;
  }

  #tick(): void {
    if (this.#claims.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    // Renew once less than two thirds of the lease is left: a claim is renewed at most every
    // third of a lease, and always with at least a third to spare.
    const threshold = this.#now() + (this.#leaseMs * 2) / 3;
    for (const claim of this.#claims) if (claim.leaseUntil < threshold) claim.renew();
  }
}

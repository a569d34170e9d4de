import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/retry/backoff.ts';
import {
  DEFAULT_POLICY,
  isRetryableStatus,
  mayRetry,
  resolvePolicy,
} from '../../src/retry/policy.ts';
import { parseRetryAfter } from '../../src/retry/retry-after.ts';
import { sleep } from '../../src/retry/sleep.ts';

describe('backoffDelay', () => {
  it('doubles from the base up to the cap', () => {
    const exact = (retry: number) => backoffDelay(retry, { base: 300, cap: 10_000, jitter: false });
    expect([1, 2, 3, 4, 5, 6, 7].map(exact)).toEqual([300, 600, 1200, 2400, 4800, 9600, 10_000]);
  });

  it('draws full jitter in [0, ceiling)', () => {
    expect(backoffDelay(3, { base: 300, cap: 10_000, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { base: 300, cap: 10_000, random: () => 0.5 })).toBe(600);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(2, { base: 300, cap: 10_000 });
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(600);
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-23T13:00:00Z');
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });
  it('reads an HTTP-date, and a past one as now', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 13:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:00:00 GMT', now)).toBe(0);
  });
  it('reads the asctime form (no zone) as GMT, whatever the time zone of the machine', () => {
    // RFC 9110 §5.6.7: every HTTP-date is GMT, and the asctime form says so without a zone;
    // Date.parse would read it in local time, hours off the server's wish.
    const zone = process.env.TZ;
    try {
      for (const tz of ['UTC', 'America/New_York', 'Asia/Tokyo']) {
        process.env.TZ = tz;
        expect(parseRetryAfter('Mon Nov 23 13:00:05 2026', now)).toBe(5_000);
        expect(parseRetryAfter('Mon Nov  2 13:00:05 2026', now)).toBe(0);
        expect(parseRetryAfter('Monday, 23-Nov-26 13:00:05 GMT', now)).toBe(5_000);
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
  it('ignores what it cannot read', () => {
    for (const value of [null, undefined, '', '-1', '1.5', 'soon', 'Someday 12']) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});

describe('policy', () => {
  it('has the defaults of issue 2', () => {
    expect(DEFAULT_POLICY).toMatchObject({
      attempts: 3,
      backoffBase: 300,
      backoffCap: 10_000,
      jitter: true,
      maxRetryAfter: 60_000,
    });
    expect([...DEFAULT_POLICY.statusCodes]).toEqual([408, 409, 425, 429, 500, 502, 503, 504]);
  });

  it('merges options over a base, attempts winning over limit', () => {
    const base = resolvePolicy({ attempts: 5, backoffBase: 10 });
    expect(resolvePolicy({ jitter: false }, base)).toMatchObject({
      attempts: 5,
      backoffBase: 10,
      jitter: false,
    });
    expect(resolvePolicy({ limit: 0 }, base).attempts).toBe(1);
    expect(resolvePolicy({ limit: 9, attempts: 2 }).attempts).toBe(2);
    expect(resolvePolicy(false, base).attempts).toBe(1);
    expect(resolvePolicy(4).attempts).toBe(5);
    expect(resolvePolicy(undefined, base)).toBe(base);
    expect(() => resolvePolicy({ attempts: 0 })).toThrow(RangeError);
  });

  it('refuses a negative or NaN backoff or Retry-After cap with a RangeError, allows Infinity', () => {
    for (const name of ['backoffBase', 'backoffCap', 'maxRetryAfter'] as const) {
      for (const bad of [-1, Number.NaN]) {
        expect(() => resolvePolicy({ [name]: bad })).toThrow(RangeError);
      }
      expect(resolvePolicy({ [name]: Number.POSITIVE_INFINITY })[name]).toBe(
        Number.POSITIVE_INFINITY,
      );
      expect(resolvePolicy({ [name]: 0 })[name]).toBe(0);
    }
  });

  it('retries a keyed request whatever its method, others only when idempotent', () => {
    expect(mayRetry(DEFAULT_POLICY, 'POST', true)).toBe(true);
    expect(mayRetry(DEFAULT_POLICY, 'POST', false)).toBe(false);
    expect(mayRetry(DEFAULT_POLICY, 'PATCH', false)).toBe(false);
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']) {
      expect(mayRetry(DEFAULT_POLICY, method, false)).toBe(true);
    }
    expect(mayRetry(resolvePolicy(false), 'GET', true)).toBe(false);
  });

  it('retries 409 only with a key', () => {
    expect(isRetryableStatus(DEFAULT_POLICY, 409, true)).toBe(true);
    expect(isRetryableStatus(DEFAULT_POLICY, 409, false)).toBe(false);
    expect(isRetryableStatus(DEFAULT_POLICY, 404, true)).toBe(false);
  });
});

describe('sleep', () => {
  it('rejects with the reason as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });

  it('waits longer than a timer can (2^31 − 1 ms) instead of firing at once', async () => {
    // maxRetryAfter: Infinity with a Retry-After of 30 days must wait, not hammer the server.
    const controller = new AbortController();
    const pending = sleep(30 * 86_400_000, controller.signal);
    const early = await Promise.race([
      pending.then(() => 'resolved'),
      new Promise((resolve) => setTimeout(resolve, 50, 'waiting')),
    ]);
    controller.abort(new Error('done'));
    await expect(pending).rejects.toThrow('done');
    expect(early).toBe('waiting');
  });
});

import { InvalidKeyError } from './invalid-key-error.ts';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
// 1970-01-01 was a Thursday; ISO weeks start on Monday, four days later.
const WEEK_OFFSET_MS = 4 * UNIT_MS.d;
const YEAR_0 = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const YEAR_10000 = 253_402_300_800_000; // 10000-01-01T00:00:00Z

/** A time bucket: a key part that stays the same for every instant inside one window. */
export interface TimeWindow {
  readonly kind: 'window';
  /** The size as written, such as `'1d'` or `'15m'`. */
  readonly size: string;
  /** Start of the window, in milliseconds since the epoch (UTC). */
  readonly start: number;
  /** Readable form used inside keys, such as `1d@2026-11-23` or `1h@2026-11-23T1300Z`. */
  toString(): string;
}

/**
 * The time window that contains `now`: use it as a key part when the same logical operation may
 * legitimately happen again in the next window (a daily payout, a weekly report).
 * Sizes are a whole number followed by `s`, `m`, `h`, `d` or `w`. Windows are aligned to UTC;
 * weeks start on Monday (ISO 8601).
 *
 * @example
 * ```ts
 * keyFrom('payout', accountId, window('1d', Date.now())); // 'payout:acct_9:1d@2026-11-23'
 * ```
 */
export function window(size: string, now: number | Date = Date.now()): TimeWindow {
  const match = /^([1-9]\d{0,5})([smhdw])$/.exec(size);
  if (!match) {
    throw new InvalidKeyError(
      size,
      `window size must look like '15m', '1d' or '1w', got '${size}'`,
    );
  }
  const unit = match[2] as keyof typeof UNIT_MS;
  const length = Number(match[1]) * UNIT_MS[unit];
  const time = typeof now === 'number' ? now : now.getTime();
  const offset = unit === 'w' ? WEEK_OFFSET_MS : 0;
  const start = Math.floor((time - offset) / length) * length + offset;
  // Years 0000 to 9999 only (false for NaN too): outside them toISOString writes `+010000-…`,
  // which the label's fixed slices cut into one label for a whole month, or throws a RangeError.
  // A time in µs or ns instead of ms lands there.
  if (!(start >= YEAR_0 && start < YEAR_10000)) {
    throw new InvalidKeyError(size, 'window time is not a date in years 0000 to 9999');
  }
  const label = formatStart(start, unit);
  return { kind: 'window', size, start, toString: () => `${size}@${label}` };
}

function formatStart(start: number, unit: keyof typeof UNIT_MS): string {
  const iso = new Date(start).toISOString(); // 2026-11-23T13:05:00.000Z
  const day = iso.slice(0, 10);
  if (unit === 'd' || unit === 'w') return day;
  const clock = iso.slice(11, 19).replaceAll(':', '');
  return `${day}T${unit === 's' ? clock : clock.slice(0, 4)}Z`;
}

/** True when `value` is a {@link TimeWindow}. */
export function isTimeWindow(value: unknown): value is TimeWindow {
  return typeof value === 'object' && value !== null && (value as TimeWindow).kind === 'window';
}

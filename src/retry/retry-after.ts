/**
 * The delay a `Retry-After` header asks for, in milliseconds, or `undefined` when the header is
 * absent or unreadable. Both forms of RFC 9110 §10.2.3 are read: delay-seconds (`120`) and an
 * HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`); a date in the past means "now" (0).
 *
 * @example
 * ```ts
 * parseRetryAfter('3');                                   // 3000
 * parseRetryAfter(new Date(Date.now() + 5000).toUTCString()); // about 5000
 * ```
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only date-shaped values: Date.parse would otherwise accept '2026' or '1.5' as dates.
  if (!/^[A-Za-z]{3},? /.test(text) && !/^[A-Za-z]+day, /.test(text)) return undefined;
  // Every HTTP-date is GMT (RFC 9110 §5.6.7), and the asctime form carries no zone: Date.parse
  // would read it in the machine's local time, hours off what the server asked.
  const zoned = /(?:[A-Za-z]|[+-]\d{4})$/.test(text) ? text : `${text} GMT`;
  const time = Date.parse(zoned);
  if (Number.isNaN(time)) return undefined;
  return Math.max(0, time - now);
}

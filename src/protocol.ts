/**
 * What client and server agree on: header names, the key's wire format and the problem types.
 * Both sides import this module; neither imports the other.
 */

/** Request header that carries the idempotency key (IETF Idempotency-Key draft). */
export const KEY_HEADER = 'Idempotency-Key';
/** Response header a server sets on a stored response it sends again (Stripe and the draft's practice). */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** How a key is written in the header: as is, or as an RFC 8941 sf-string (`"…"`, as the draft writes it). */
export type KeyFormat = 'token' | 'sf-string';

/** Stable problem type URIs, documented in `docs/server.md`. */
export const PROBLEM_TYPES = {
  missing: 'idempotency-key-missing',
  invalid: 'idempotency-key-invalid',
  inUse: 'idempotency-key-in-use',
  reused: 'idempotency-key-reused',
} as const;

export type ProblemType = (typeof PROBLEM_TYPES)[keyof typeof PROBLEM_TYPES];

/** Default prefix of problem type URIs; a server may set its own. */
export const PROBLEM_BASE_URI = 'https://oncely.dev/problems/';

/**
 * The header value for `key`. The plain form is used unless `format` is `'sf-string'`, or the key
 * holds a character that would be ambiguous in the plain form (`,` splits header lists, and a
 * leading `"` reads as an sf-string); then it is quoted with `"` and `\` escaped.
 */
export function formatKeyHeader(key: string, format: KeyFormat = 'token'): string {
  if (format === 'token' && !key.includes(',') && key[0] !== '"') return key;
  return `"${key.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

// RFC 8941 §3.1.2: `;` key [`=` bare item]. Read loosely, since they are ignored: an sf-string
// (or an RFC 9651 display string) exactly, as it may hold `;` or `,`; other bare items as a run.
const PARAMETERS = /^(;\x20*[a-z*][\w.*-]*(=(%?"([^"\\]|\\["\\])*"|[^;", ]+))?)*$/;

/** The outcome of reading an `Idempotency-Key` header value. */
export type ParsedKeyHeader = { ok: true; key: string } | { ok: false; reason: string };

/**
 * Reads a header value in either form (plain or RFC 8941 sf-string); both give the same key.
 * Several values (a comma outside quotes, as when the header was sent twice) are refused.
 * Key rules (length, characters) are checked by the caller.
 */
export function parseKeyHeader(value: string): ParsedKeyHeader {
  // Printable ASCII and HTAB only, as RFC 8941 allows: then trim() strips only SP and HTAB. Without
  // this check it also stripped a non-ASCII no-break space (0xA0), and `abc<0xA0>` passed as `abc`.
  if (/[^\t -~]/.test(value)) return { ok: false, reason: 'non-printable character' };
  const text = value.trim();
  if (text[0] !== '"') {
    if (text.includes(',')) return { ok: false, reason: 'more than one Idempotency-Key value' };
    return { ok: true, key: text };
  }
  let key = '';
  for (let i = 1; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '\\') {
      const next = text[i + 1];
      if (next !== '"' && next !== '\\') return { ok: false, reason: 'bad escape in sf-string' };
      key += next;
      i++;
    } else if (char === '"') {
      const rest = text.slice(i + 1);
      // An Item may carry parameters (RFC 8941 §3.1.2, `"abc";a=1`); the draft defines none, so
      // they are ignored. The rest of the value must be parameters and nothing else.
      if (PARAMETERS.test(rest)) return { ok: true, key };
      return rest.includes(',')
        ? { ok: false, reason: 'more than one Idempotency-Key value' }
        : { ok: false, reason: 'text after the closing quote' };
    } else {
      key += char; // printable or HTAB (checked above); a key holding a HTAB is refused by the caller
    }
  }
  return { ok: false, reason: 'unterminated sf-string' };
}

/**
 * The problem type of a request sent without a key: the one the client recognises (it becomes
 * `KeyRequiredError`). A constant of its own, so that a client bundle takes it without the other
 * types; its type keeps it equal to `PROBLEM_TYPES.missing`.
 */
export const MISSING_KEY_PROBLEM: typeof PROBLEM_TYPES.missing = 'idempotency-key-missing';

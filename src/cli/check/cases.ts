/**
 * The cases of `oncely check`: the IETF Idempotency-Key draft's behaviours (§2.6, §2.7), each sent
 * as real requests to the API and judged from what came back.
 */
import { newKey } from '../../key/new-key.ts';
import { MAX_KEY_LENGTH } from '../../key/validate.ts';
import { REPLAYED_HEADER } from '../../protocol.ts';
import type { CheckArgs } from './args.ts';
import { type Answer, type ProbeInput, probe } from './probe.ts';

/** How a case came out. A warning does not fail the check; a skipped case could not be judged. */
export const OUTCOMES = {
  pass: 'pass',
  fail: 'fail',
  warn: 'warn',
  skip: 'skip',
} as const;

export type Outcome = (typeof OUTCOMES)[keyof typeof OUTCOMES];

/** One line of the report. */
export interface CaseResult {
  id: string;
  title: string;
  outcome: Outcome;
  expected: string;
  got: string;
}

const PROBLEM_JSON = 'application/problem+json';
const EXCERPT = 60;
const OVER_LONG = 300;
// The statuses of the draft's §2.7 are SHOULDs: another 4xx is a warning that names the draft's.
const DRAFT_SAYS = "the draft's §2.7 says";
const UNKNOWABLE =
  'but a request with another key got the same body: a second run cannot be told from a replay, check the side effects';

/** Runs every case against the API in `args`, in order, and returns one result each. */
export async function runCases(args: CheckArgs): Promise<CaseResult[]> {
  const send = (input: ProbeInput) => probe(args, input);
  const body = args.body;

  const key = newKey();
  const first = await send({ key, body });
  // Without a first success, the cases that reuse its key have nothing to compare with: they are
  // skipped, and not sent (each request may create something on the API).
  const succeeded = first.ok && is2xx(first.status);
  const again = succeeded ? await send({ key, body }) : undefined;
  const concurrentKey = newKey();
  const pair = await Promise.all([
    send({ key: concurrentKey, body }),
    send({ key: concurrentKey, body }),
  ]);
  const reused = succeeded ? await send({ key, body: otherBody(body) }) : undefined;
  const missing = await send({ key: undefined, body });
  const invalid = await send({ key: overLongKey(), body });

  // Equal bodies only show a replay when requests with different keys get different bodies (an id
  // of the created resource); the first request and the concurrent pair are two operations.
  const sameForAll =
    succeeded &&
    pair.some((answer) => answer.ok && is2xx(answer.status) && answer.body === first.body);
  return [
    judgeFirst(first, args),
    judgeReplay(first, again, sameForAll),
    judgeConcurrent(...pair, sameForAll),
    judgeReused(first, reused),
    judgeMissing(missing),
    judgeInvalid(invalid),
    judgeProblemJson([...pair, ...(reused === undefined ? [] : [reused]), missing, invalid]),
  ];
}

function judgeFirst(first: Answer, { url, keyFormat }: CheckArgs): CaseResult {
  const base = {
    id: 'first',
    title: 'a first request with a fresh key succeeds',
    expected: '2xx',
  };
  if (!first.ok) return { ...base, outcome: OUTCOMES.fail, got: first.error };
  const location = first.headers.get('location');
  if (first.status >= 300 && first.status < 400 && location !== null) {
    // Not followed: a 301 or 302 would turn the POST into a GET, and the API lives at the target.
    const target = URL.canParse(location, url) ? new URL(location, url).href : location;
    return {
      ...base,
      outcome: OUTCOMES.fail,
      got: `${first.status}, a redirect to ${target} (not followed: check that URL)`,
    };
  }
  // The draft's §2.1 makes the value an sf-string; most APIs (Stripe) take it plain, the default.
  const hint =
    first.status === 400 && keyFormat === 'token'
      ? " (if the API reads the key as an RFC 8941 string, as the draft's §2.1 writes it, try --key-format sf-string)"
      : '';
  return {
    ...base,
    outcome: is2xx(first.status) ? OUTCOMES.pass : OUTCOMES.fail,
    got: `${status(first)}${hint}`,
  };
}

function judgeReplay(first: Answer, again: Answer | undefined, sameForAll: boolean): CaseResult {
  const base = { id: 'replay', title: 'the same key and body again is replayed' };
  if (!first.ok || !is2xx(first.status) || again === undefined) {
    return { ...base, outcome: OUTCOMES.skip, expected: 'a first response to replay', got: 'none' };
  }
  const expected = `${first.status} with the first response's body`;
  if (!again.ok) return { ...base, outcome: OUTCOMES.fail, expected, got: again.error };
  const flag = again.headers.get(REPLAYED_HEADER);
  const note = flag === null ? `no ${REPLAYED_HEADER} header` : `${REPLAYED_HEADER}: ${flag}`;
  // The draft's §2.7 answer for a request still being processed: an API that stores the response
  // after sending it answers a retry that comes at once with 409, and the response later.
  if (again.status === 409) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      expected,
      got: `409: the first request was still in progress after its answer came; a retry gets its response once the API has stored it`,
    };
  }
  if (again.status !== first.status) {
    return { ...base, outcome: OUTCOMES.fail, expected, got: `${status(again)}, ${note}` };
  }
  if (again.body !== first.body) {
    return {
      ...base,
      outcome: OUTCOMES.fail,
      expected,
      got: `${again.status} with another body ${excerpt(again.body)} (first ${excerpt(first.body)}): the request ran again`,
    };
  }
  // Only the server's own word tells a replay from a second run that answered the same bytes.
  if (sameForAll && flag === null) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      expected,
      got: `${again.status}, same body, ${note}; ${UNKNOWABLE}`,
    };
  }
  return { ...base, outcome: OUTCOMES.pass, expected, got: `${again.status}, same body, ${note}` };
}

function judgeConcurrent(a: Answer, b: Answer, sameForAll: boolean): CaseResult {
  const base = {
    id: 'concurrent',
    title: 'a concurrent duplicate does not run twice',
    expected: 'one 2xx, the other 409 or the same response',
  };
  if (!a.ok) return { ...base, outcome: OUTCOMES.fail, got: a.error };
  if (!b.ok) return { ...base, outcome: OUTCOMES.fail, got: b.error };
  const got = `${a.status} and ${b.status}`;
  const success = [a, b].filter((answer) => is2xx(answer.status));
  const conflicts = [a, b].filter((answer) => answer.status === 409);
  if (success.length === 1 && conflicts.length === 1) {
    return { ...base, outcome: OUTCOMES.pass, got };
  }
  // Another 4xx (425, 423, 429…) refused the duplicate too: it did not run twice.
  if (success.length === 1 && [a, b].some((answer) => is4xx(answer.status))) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      got: `${got}: refused, not run twice; ${DRAFT_SAYS} 409`,
    };
  }
  if (success.length === 2 && a.status === b.status) {
    // Two bodies that differ (a new id in each) are two effects; equal bodies are one response
    // shared, as a server that waits for the first request answers (the draft allows either).
    if (a.body === b.body) {
      const replayed = [a, b].some((answer) => answer.headers.has(REPLAYED_HEADER));
      // The pair can arrive one after the other when the handler is fast: then one is a replay.
      const how = replayed ? `, same body, one with ${REPLAYED_HEADER}` : ', same body';
      if (sameForAll && !replayed) {
        return { ...base, outcome: OUTCOMES.warn, got: `${got}${how}; ${UNKNOWABLE}` };
      }
      return { ...base, outcome: OUTCOMES.pass, got: `${got}${how}` };
    }
    return {
      ...base,
      outcome: OUTCOMES.fail,
      got: `${got} with different bodies ${excerpt(a.body)} and ${excerpt(b.body)}: a second effect`,
    };
  }
  return { ...base, outcome: OUTCOMES.fail, got };
}

function judgeReused(first: Answer, reused: Answer | undefined): CaseResult {
  const base = {
    id: 'reused',
    title: 'the same key with another body is refused',
    expected: '422',
  };
  if (!first.ok || !is2xx(first.status) || reused === undefined) {
    return { ...base, outcome: OUTCOMES.skip, got: 'no first request to reuse the key of' };
  }
  if (!reused.ok) return { ...base, outcome: OUTCOMES.fail, got: reused.error };
  if (reused.status === 422) return { ...base, outcome: OUTCOMES.pass, got: status(reused) };
  if (is4xx(reused.status)) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      got: `${status(reused)}: refused; ${DRAFT_SAYS} 422`,
    };
  }
  const why = is2xx(reused.status)
    ? reused.body === first.body
      ? ': the first response was shown for another request'
      : ': the key was accepted for another request'
    : '';
  return { ...base, outcome: OUTCOMES.fail, got: `${status(reused)}${why}` };
}

function judgeMissing(missing: Answer): CaseResult {
  const base = { id: 'missing', title: 'a request without a key is refused', expected: '400' };
  if (!missing.ok) return { ...base, outcome: OUTCOMES.fail, got: missing.error };
  if (missing.status === 400) return { ...base, outcome: OUTCOMES.pass, got: status(missing) };
  // The draft lets a resource make the key optional; only a documented requirement makes it a 400.
  if (is2xx(missing.status)) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      got: `${missing.status}: this API does not require keys, so a retry without one can run twice`,
    };
  }
  if (is4xx(missing.status)) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      got: `${status(missing)}: refused; ${DRAFT_SAYS} 400`,
    };
  }
  return { ...base, outcome: OUTCOMES.fail, got: status(missing) };
}

function judgeInvalid(invalid: Answer): CaseResult {
  const base = {
    id: 'invalid',
    title: `a key of ${OVER_LONG} characters (over ${MAX_KEY_LENGTH}) is refused`,
    expected: '400',
  };
  if (!invalid.ok) return { ...base, outcome: OUTCOMES.fail, got: invalid.error };
  if (invalid.status === 400) return { ...base, outcome: OUTCOMES.pass, got: status(invalid) };
  // The draft's §2.1 sets no length limit (255 is Stripe's and oncely's): a warning, not a failure.
  if (is2xx(invalid.status)) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      got: `${status(invalid)}: accepted; the draft sets no length limit (${MAX_KEY_LENGTH} is Stripe's and oncely's)`,
    };
  }
  if (is4xx(invalid.status)) {
    return {
      ...base,
      outcome: OUTCOMES.warn,
      got: `${status(invalid)}: refused with another status than 400`,
    };
  }
  return { ...base, outcome: OUTCOMES.fail, got: status(invalid) };
}

function judgeProblemJson(answers: Answer[]): CaseResult {
  const base = {
    id: 'problem-json',
    title: 'errors are application/problem+json (RFC 9457)',
    expected: PROBLEM_JSON,
  };
  const seen = answers.filter(
    (answer): answer is Answer & { ok: true } =>
      answer.ok && answer.status >= 400 && answer.status < 500,
  );
  if (seen.length === 0)
    return { ...base, outcome: OUTCOMES.skip, got: 'no 4xx answer to look at' };
  const others = seen.filter((answer) => mediaType(answer.headers) !== PROBLEM_JSON);
  if (others.length === 0) {
    return {
      ...base,
      outcome: OUTCOMES.pass,
      got: `${PROBLEM_JSON} on ${seen.length} of ${seen.length}`,
    };
  }
  // A warning only: the draft recommends problem details but many APIs have their own envelope.
  return {
    ...base,
    outcome: OUTCOMES.warn,
    got: others
      .map((answer) => `${answer.status} ${mediaType(answer.headers) || 'without content-type'}`)
      .join(', '),
  };
}

/**
 * A key of {@link OVER_LONG} characters, fresh for each run like every other key sent: an API with
 * no length limit accepts it and runs the request, and a fixed key would then be replayed (or
 * refused as reused) on the next run, by whoever runs the check with the same credentials.
 */
function overLongKey(): string {
  return `${newKey()}-`.padEnd(OVER_LONG, 'k');
}

/** A body the API's fingerprint must tell from `body`: a JSON object gains a member. */
export function otherBody(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return JSON.stringify({ ...parsed, oncelyCheck: 'another body' });
    }
    return JSON.stringify({ oncelyCheck: 'another body', was: parsed });
  } catch {
    return `${body}\n[oncely check: another body]`;
  }
}

function is2xx(code: number): boolean {
  return code >= 200 && code < 300;
}

function is4xx(code: number): boolean {
  return code >= 400 && code < 500;
}

function status(answer: Answer & { ok: true }): string {
  return String(answer.status);
}

function mediaType(headers: Headers): string {
  return (headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ');
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT)}…` : flat;
}

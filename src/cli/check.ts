/**
 * `oncely check <url>`: sends the IETF Idempotency-Key draft's cases to any API (a fresh key, its
 * replay, a concurrent duplicate, the key reused with another body, a missing and an invalid key)
 * and prints which hold (issue 4, "Tests and figures"). Every case is real requests with plain
 * `fetch`, so point it at a test or sandbox endpoint: it creates a few resources.
 * Exit codes: 0 every case holds (warnings allowed), 1 a case failed, 2 usage.
 */
import { parseCheckArgs } from './check/args.ts';
import { runCases } from './check/cases.ts';
import { jsonReport, summarize, textReport } from './check/report.ts';
import type { CommandIo } from './io.ts';

const USAGE = `usage:
  oncely check <url> [options]    probe an API for the Idempotency-Key draft's cases

options:
  -X, --method <method>    unsafe method to send (default POST)
  -H, --header 'Name: v'   header sent on every request, repeatable (auth, tenant…)
  -d, --body <text>        request body (default {}); JSON gets application/json
      --timeout <ms>       per-request timeout (default 10000)
      --key-format <f>     token (default): Idempotency-Key: 0b5c…; sf-string: "0b5c…" (draft §2.1)
      --json               print the results as JSON

Each case sends real requests: point it at a test or sandbox endpoint.
exit codes: 0 every case holds, 1 a case failed, 2 usage`;

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Runs `oncely check …` with `args` after `check`, and returns the exit code. */
export async function run(args: string[], io: CommandIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const parsed = parseCheckArgs(args);
  if (typeof parsed === 'string') {
    io.err(`oncely check: ${parsed}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const results = await runCases(parsed);
  if (parsed.json) io.out(jsonReport(parsed, results));
  else for (const line of textReport(parsed, results)) io.out(line);
  const summary = summarize(results);
  return summary.fail > 0 || summary.skip > 0 ? EXIT.failed : EXIT.ok;
}

import type { CheckArgs } from './args.ts';
import { type CaseResult, OUTCOMES, type Outcome } from './cases.ts';

const MARKS: Record<Outcome, string> = {
  [OUTCOMES.pass]: '✓',
  [OUTCOMES.fail]: '✗',
  [OUTCOMES.warn]: '!',
  [OUTCOMES.skip]: '-',
};

/** How many cases came out each way. */
export type Summary = Record<Outcome, number>;

export function summarize(results: readonly CaseResult[]): Summary {
  const summary: Summary = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const result of results) summary[result.outcome]++;
  return summary;
}

/** The report for people: one line per case, then a summary line. */
export function textReport(args: CheckArgs, results: readonly CaseResult[]): string[] {
  const summary = summarize(results);
  const lines = [`oncely check: ${args.method} ${args.url.href}`, ''];
  for (const result of results) {
    lines.push(
      `${MARKS[result.outcome]} ${result.title}: expected ${result.expected}, got ${result.got}`,
    );
  }
  const parts = [`${summary.pass} of ${results.length} hold`];
  if (summary.fail > 0) parts.push(`${summary.fail} failed`);
  if (summary.warn > 0) parts.push(`${summary.warn} warning${summary.warn === 1 ? '' : 's'}`);
  if (summary.skip > 0) parts.push(`${summary.skip} skipped`);
  lines.push('', parts.join(', '));
  return lines;
}

/** The report for scripts (`--json`). */
export function jsonReport(args: CheckArgs, results: readonly CaseResult[]): string {
  return JSON.stringify(
    { url: args.url.href, method: args.method, cases: results, summary: summarize(results) },
    null,
    2,
  );
}

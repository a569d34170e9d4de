/** The chaos suite's results: a plain-text table for the terminal, and `docs/reliability.md`. */
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { FAULT_KINDS, type FaultKind } from './faults.ts';
import type { ChaosResult } from './run.ts';

/** True when the run kept exactly-once: no duplicate, no lost operation, no changed key. */
export function exactlyOnce(result: ChaosResult): boolean {
  return result.duplicates === 0 && result.lost === 0 && result.changedKeys === 0;
}

const FAULT_LABELS: Record<FaultKind, string> = {
  [FAULT_KINDS.reset]: 'connection reset before the server',
  [FAULT_KINDS.drop]: 'response dropped after commit',
  [FAULT_KINDS.unavailable]: '503 with Retry-After',
  [FAULT_KINDS.tooMany]: '429 with Retry-After',
  [FAULT_KINDS.hang]: 'hang past the client timeout',
  [FAULT_KINDS.duplicate]: 'concurrent duplicate (409)',
  [FAULT_KINDS.serverKill]: 'server killed mid-handler',
  [FAULT_KINDS.clientKill]: 'client SIGKILLed, resumed',
};

function rows(result: ChaosResult): [string, string][] {
  const faults = Object.values(result.faults).reduce((sum, n) => sum + n, 0);
  return [
    ['operations', String(result.ops)],
    ['attempts', String(result.attempts)],
    ['faults injected', String(faults)],
    ...Object.values(FAULT_KINDS).map(
      (kind) => [`  ${FAULT_LABELS[kind]}`, String(result.faults[kind])] as [string, string],
    ),
    ['effects on the ledger', String(result.effects)],
    ['duplicates (> 1 effect)', String(result.duplicates)],
    ['lost (0 effects)', String(result.lost)],
    ['keys changed between attempts', String(result.changedKeys)],
    ['replays', String(result.replays)],
    ['409 answers', String(result.conflicts)],
    ['proxy 503 (server down or killed)', String(result.noServer)],
    ['resumed after a client kill', String(result.resumed)],
    ['server restarts / lease takeovers', `${result.serverRestarts} / ${result.takeovers}`],
    ['duration', `${(result.durationMs / 1000).toFixed(1)} s`],
  ];
}

/** The results as an aligned table, one column per store. */
export function formatText(results: readonly ChaosResult[]): string {
  const columns = results.map((result) => rows(result));
  const labels = (columns[0] ?? []).map(([label]) => label);
  const headers = results.map((r) =>
    r.servers > 1 ? `${r.store} (${r.servers} servers)` : r.store,
  );
  const width = Math.max(...labels.map((label) => label.length));
  const widths = headers.map((header, n) =>
    Math.max(header.length, ...(columns[n] ?? []).map(([, value]) => value.length)),
  );
  const line = (label: string, values: string[]) =>
    `${label.padEnd(width)}  ${values.map((value, n) => value.padStart(widths[n] ?? 0)).join('  ')}`;
  const out = [line('', headers)];
  labels.forEach((label, row) => {
    out.push(
      line(
        label,
        columns.map((column) => column[row]?.[1] ?? ''),
      ),
    );
  });
  const verdicts = results.map(
    (r) => `${r.store}: ${exactlyOnce(r) ? 'exactly once' : 'EXACTLY-ONCE VIOLATED'}`,
  );
  return `${out.join('\n')}\n\n${verdicts.join('\n')}`;
}

/** An ASCII bar chart of faults by kind, summed over the stores. */
function faultChart(results: readonly ChaosResult[]): string {
  const totals = Object.values(FAULT_KINDS).map(
    (kind) => [FAULT_LABELS[kind], results.reduce((sum, r) => sum + r.faults[kind], 0)] as const,
  );
  const most = Math.max(1, ...totals.map(([, n]) => n));
  const width = Math.max(...totals.map(([label]) => label.length));
  return totals
    .map(([label, n]) => `${label.padEnd(width)} │${'█'.repeat(Math.round((n / most) * 40))} ${n}`)
    .join('\n');
}

/** `docs/reliability.md`: the figures, the command that produced them, when and on what. */
export function formatMarkdown(
  results: readonly ChaosResult[],
  run: { command: string; faultRate: number; seed: number; concurrency: number; date: Date },
  control?: ChaosResult,
): string {
  const columns = results.map((result) => rows(result));
  const labels = (columns[0] ?? []).map(([label]) => label.trim());
  const headers = results.map((r) =>
    r.servers > 1 ? `${r.store} (${r.servers} servers)` : r.store,
  );
  const table = [
    `| | ${headers.join(' | ')} |`,
    `|---|${headers.map(() => '---:').join('|')}|`,
    ...labels.map(
      (label, row) =>
        `| ${(columns[0]?.[row]?.[0] ?? '').startsWith('  ') ? `↳ ${label}` : label} | ${columns
          .map((column) => column[row]?.[1] ?? '')
          .join(' | ')} |`,
    ),
  ].join('\n');
  const cpu = cpus();
  const verdict = results.every(exactlyOnce)
    ? 'Every operation took effect exactly once: 0 duplicates, 0 lost, 0 changed keys.'
    : '**Exactly-once was violated in this run** (see the table).';
  return `# Reliability: the chaos suite

${verdict}

Produced by \`${run.command}\` on ${run.date.toISOString().slice(0, 10)}
(${run.date.toISOString()}), on ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'},
${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()} ${arch()}, Node ${process.versions.node}.
Fault rate ${run.faultRate}, concurrency ${run.concurrency}, seed ${run.seed}. Re-run it with the
same command for a run of the same kind: the seed fixes the random draws, but timing decides which
request each fault or kill meets, so counts of faults and kills differ from run to run (the
exactly-once result must not). \`npm run chaos -- --help\` lists the options.

## What runs

- **Servers**: real processes (\`chaos/server.ts\`) with \`POST /effects\` behind \`idempotency()\`
  on node:http (\`--adapter node\` puts the \`oncely/server/node\` adapter there instead).
  The handler writes one row per run to a ledger in the store's own database (a SQLite table, a
  Redis hash, a PostgreSQL table), so the ledger survives a server kill as the records do. SQLite
  runs one server; Redis and PostgreSQL run two behind the proxy, round-robin. PostgreSQL runs the
  transactional mode. The lease is 1 s, so a killed server's key is taken over soon.
- **Proxy** (\`chaos/proxy.ts\`): between clients and servers, it injects on each attempt, at the
  fault rate, one of: a connection reset before the server sees the request; the response dropped
  (connection reset) after the handler committed; 503 or 429 with \`Retry-After: 1\`, answered
  without forwarding; a hang past the client's 1 s timeout (the server does the work, the answer is
  held); a concurrent duplicate (a copy sent to a server at the same time, one of the two meets a
  409); a server process killed with SIGKILL in the middle of the handler, then restarted.
- **Clients** (\`chaos/client-worker.ts\`): child processes running named durable operations on a
  file journal, half with a key derived from the operation id (\`keyFrom\`), half with a random
  key. At the fault rate, a client process is killed with SIGKILL at a random point; a fresh
  process on the same journal calls \`client.resume()\` and finishes its batch.
- **Checks**: after every client finished (and resumed), the ledger is read operation by
  operation. A duplicate is an operation with more than one effect, a lost one has none. Every
  attempt's key is logged per operation (by the proxy, and by the servers), and an operation whose
  attempts carried more than one key counts as a changed key. The run fails unless all three are 0.

## Results

${table}

${control === undefined ? '' : controlSection(control)}## Faults by kind

\`\`\`text
${faultChart(results)}
\`\`\`

## Reading the figures

- **Retries** are attempts minus operations: every attempt after an operation's first, in the
  session, in the background or after a resume.
- **Replays** are attempts answered with the stored response (\`Idempotent-Replayed: true\`): the
  retries of operations whose earlier attempt had committed (a dropped response, a hang).
- **Proxy 503s** are not drawn faults but their consequence: the attempts in flight on a server that
  was killed, and, with SQLite's single server, every attempt until it was back. They carry
  \`Retry-After: 1\`, as a load balancer's would.
- **PostgreSQL shows no 409 and no takeover**: in transactional mode a concurrent duplicate waits on
  the first request's uncommitted row and then gets its replay, and a killed server's transaction
  rolls back with its claim, so no lease is left to take over.
- **Resumed** counts operations finished by \`client.resume()\` in a fresh process after a kill:
  the journal held them, with their key, while nothing awaited them any more.

## What a non-transactional store cannot promise

A server that dies after the handler's effect but before the response is stored leaves an
in-flight record; once its lease lapses a retry takes the key over and runs the handler again. No
idempotency layer can tell that the effect happened: only an effect that commits with the record
can. With PostgreSQL's transactional mode (\`transactional: true\`) the kill comes right after the
effect, inside the transaction, and both roll back together. With SQLite and Redis the suite kills
the server mid-handler at a point where no handler is between its effect and its stored response;
in your own handlers, make the effect itself idempotent on the key (a unique constraint on it) or
use the transactional mode.
`;
}

/** The control run: the same harness with no helper, which must show duplicates. */
function controlSection(control: ChaosResult): string {
  return `## Control: the same faults without the helper

A proof that cannot fail proves nothing, so the report includes a control run: ${control.ops.toLocaleString('en-US')} operations on
${control.store} with the same fault rate, client kills and seed, and the handler served **without** the
server helper (\`npm run chaos -- --unguarded\`). Clients still send one key per operation and
retry it; nothing on the server reads it. Result: **${control.duplicates.toLocaleString('en-US')} operations took effect more than once**
(${control.effects.toLocaleString('en-US')} effects for ${control.ops.toLocaleString('en-US')} operations), ${control.lost} lost, ${control.changedKeys} changed keys. ${
    control.duplicates > 0
      ? 'The ledger counts a second effect when there is one; with the helper, the runs above had none.'
      : '**The control saw no duplicate, so this run does not show that the harness would see one**: re-run with more operations or a higher fault rate.'
  }

`;
}

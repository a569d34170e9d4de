/**
 * `npm run demo`: oncely in half a minute, with nothing to set up. A server guards `POST /effects`
 * with the node:http adapter (`oncely/server/node`) on the embedded SQLite store, in a temporary
 * directory, and writes each run of its handler to a ledger. Client processes send a few hundred
 * durable operations through a proxy that injects faults (resets, lost responses, 503/429, hangs,
 * concurrent duplicates), and one client process is killed with SIGKILL midway; a fresh one
 * resumes its operations from the file journal. At the end the ledger shows each operation
 * happened once.
 *
 *   npm run demo                 # 300 operations
 *   npm run demo -- --ops 100
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from '../../chaos/faults.ts';
import { exactlyOnce } from '../../chaos/report.ts';
import { type ChaosProgress, runChaos } from '../../chaos/run.ts';

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '300' }, seed: { type: 'string' } },
});
const ops = Number(values.ops);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
// A seed that is not an integer would run, with faults no one can replay, as "seed NaN".
if (!Number.isInteger(ops) || ops < 10 || !Number.isInteger(seed)) {
  console.error('usage: npm run demo -- [--ops N (at least 10)] [--seed N (an integer)]');
  process.exit(2);
}

const FAULTS: [FaultKind, string][] = [
  [FAULT_KINDS.reset, 'connection reset before the server'],
  [FAULT_KINDS.drop, 'response lost after the server committed'],
  [FAULT_KINDS.unavailable, '503 Service Unavailable, Retry-After: 1'],
  [FAULT_KINDS.tooMany, '429 Too Many Requests, Retry-After: 1'],
  [FAULT_KINDS.hang, 'no answer before the client timeout'],
  [FAULT_KINDS.duplicate, 'the same request twice at once (409)'],
  [FAULT_KINDS.clientKill, 'client process killed (SIGKILL)'],
];

console.log(`oncely demo: ${ops} operations through a faulty network and one client crash
  server   oncely/server/node on node:http, SQLite store in a temporary directory,
           one ledger row per handler run
  network  a proxy that breaks 30 % of the attempts
  clients  durable operations on a file journal; one client process is killed midway
`);

const tty = process.stdout.isTTY === true;
let lastLine = 0;
function progress(p: ChaosProgress) {
  const line = `  ${String(p.done).padStart(String(p.ops).length)}/${p.ops} done   ${p.retries} retries   ${p.replays} replays   ${p.faults} faults`;
  if (tty) process.stdout.write(`\r${line}`);
  else if (Date.now() - lastLine >= 2_000) {
    lastLine = Date.now();
    console.log(line);
  }
}

const result = await runChaos({
  store: 'sqlite',
  adapter: 'node',
  ops,
  faultRate: 0.3,
  concurrency: 32,
  seed,
  workers: 2,
  batchSize: Math.ceil(ops / 2),
  clientKills: 'first',
  // Server kills are the chaos suite's (`npm run chaos`): each costs a restart and a lease.
  weights: { [FAULT_KINDS.serverKill]: 0 },
  deadlineMs: 120_000,
  onProgress: progress,
});
if (tty) process.stdout.write('\n');

const ok = exactlyOnce(result) && result.effects === result.ops;
const rows: [string, number | string][] = [
  ['operations', result.ops],
  ['effects on the server', result.effects],
  ['duplicates', result.duplicates],
  ['lost', result.lost],
  ['keys changed between attempts', result.changedKeys],
  ['attempts', result.attempts],
  ['retries', result.retries],
  ['replays (stored response sent again)', result.replays],
  ['faults injected', Object.values(result.faults).reduce((sum, n) => sum + n, 0)],
  ...FAULTS.map(([kind, label]): [string, number] => [`  ${label}`, result.faults[kind]]),
  ['resumed from the journal after the crash', result.resumed],
];
const width = Math.max(...rows.map(([label]) => label.length));
console.log('');
for (const [label, value] of rows)
  console.log(`  ${label.padEnd(width)}  ${String(value).padStart(6)}`);
console.log(
  ok
    ? `\nEach of the ${result.ops} operations happened exactly once (${(result.durationMs / 1000).toFixed(1)} s, seed ${seed}).`
    : `\nExactly-once did NOT hold: ${result.duplicates} duplicated, ${result.lost} lost, ${result.changedKeys} with a changed key (seed ${seed}).`,
);
process.exitCode = ok ? 0 : 1;

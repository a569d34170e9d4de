/**
 * A client process of the chaos suite, forked by the orchestrator with an IPC channel. It runs its
 * batch of operations as named durable operations on a file journal; when an earlier process on
 * that journal was killed, it first resumes what the journal holds, then runs the operations the
 * journal never saw. Every operation is retried until it succeeds: none may be lost.
 */
import { createClient, keyFrom } from '../src/index.ts';
import { fileJournal } from '../src/node.ts';
import type { OperationSpec, WorkerMessage, WorkerStart } from './messages.ts';

// The orchestrator may be gone (it failed or was stopped): then this process just ends.
const send = (message: WorkerMessage) => {
  if (process.connected) process.send?.(message);
  else process.exit(1);
};
// Orphaned (the orchestrator died): end rather than run on unattended.
process.once('disconnect', () => process.exit(1));
const start = await new Promise<WorkerStart>((resolve) => process.once('message', resolve));

const done = new Set<string>();
let finish: () => void = () => {};
const allDone = new Promise<void>((resolve) => {
  finish = resolve;
});
function settle(op: string, resumed: boolean) {
  if (done.has(op)) return;
  done.add(op);
  send({ type: 'done', op, resumed });
  if (done.size === start.operations.length) finish();
}

const journal = fileJournal(start.journalPath);
const client = createClient({
  baseUrl: start.baseUrl,
  journal,
  // Settled operations stay in the journal, so the process that resumes after a kill can tell an
  // operation that already succeeded from one that was never journaled (and so never sent).
  keepSettledMs: 3_600_000,
  backgroundRetry: { base: 100, cap: 1_000 },
  timeout: start.timeoutMs,
  totalTimeout: false,
  budget: false,
  // Short backoffs keep a 10,000-operation run within minutes; Retry-After is still honoured.
  retry: { attempts: 8, backoffBase: 25, backoffCap: 400, maxRetryAfter: 5_000 },
});

const inputs = new Map(start.operations.map((spec) => [spec.op, spec]));
// What a killed predecessor journaled: only these can be finished by resume().
const journaled = new Set<string>();
const define = (name: string, derived: boolean) =>
  client.operation(name, {
    request: (input: OperationSpec) => ({ url: 'effects', method: 'POST', json: { op: input.op } }),
    ...(derived ? { key: (input: OperationSpec) => keyFrom('chaos-effect', input.op) } : {}),
    // Detached is a background retry too, of this process's own operations: not a resume.
    onSuccess: (_response, input, info) =>
      settle(input.op, info.detached && journaled.has(input.op)),
  });
const operations = {
  derived: define('effect-derived', true),
  random: define('effect-random', false),
};

await journal.open();
for (const entry of await journal.list()) {
  const op = (entry.input as OperationSpec | undefined)?.op;
  if (op === undefined || !inputs.has(op)) continue;
  journaled.add(op);
  // Finished by the killed process: its answer may not have reached the orchestrator.
  if (entry.state === 'succeeded') settle(op, false);
}
const queue = start.operations.filter((spec) => !journaled.has(spec.op));
send({ type: 'ready', resumable: journaled.size - done.size, queued: queue.length });
// Unsettled operations of a killed process go again with their journaled key; onSuccess reports them.
if (journaled.size > done.size) await client.resume();

async function runner() {
  for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) {
    send({ type: 'sent', op: spec.op });
    const operation = spec.derived ? operations.derived : operations.random;
    try {
      await operation.run(spec);
    } catch {
      // OperationPendingError: it goes on in the background and onSuccess reports it.
    }
  }
}
await Promise.all(Array.from({ length: start.concurrency }, runner));
// Background retries run on unref'd timers (a script is never kept alive by them): this process
// exists to finish its batch, so it stays up until every operation has succeeded.
const keepAlive = setInterval(() => {}, 1_000);
if (start.operations.length > 0) await allDone;
clearInterval(keepAlive);
await journal.close();
// Exit once the last message is written to the channel, not before.
process.send?.({ type: 'end' } satisfies WorkerMessage, () => process.exit(0));

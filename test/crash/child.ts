/**
 * A client process for the crash tests, run with Node 24 straight from the sources. Mode `run`
 * starts the operations named in OPS; mode `resume` registers the same definition and calls
 * `resume()`. With PAUSE set, the process tells its parent when it reaches that point of an
 * operation's life (through the IPC channel) and stops there, to be killed with SIGKILL.
 */
import { createClient, type Journal } from '../../src/index.ts';
import { fileJournal } from '../../src/node.ts';

type Phase = 'before-put' | 'after-put' | 'before-delete';

const mode = process.env.MODE as 'run' | 'resume';
const pause = process.env.PAUSE as Phase | undefined;
const ops = JSON.parse(process.env.OPS ?? '[]') as string[];
const send = (message: unknown) => process.send?.(message);

let started = performance.now();

async function reach(phase: Phase): Promise<void> {
  // Timings for tuning the random kills: `{ at, ms }` since 'ready'.
  if (process.env.TRACE) send({ at: phase, ms: Math.round(performance.now() - started) });
  if (phase !== pause) return;
  send({ phase });
  await new Promise(() => {}); // held here until the parent kills us
}

const file = fileJournal(process.env.JOURNAL ?? '');
// The same journal, with the points where the parent may kill the process.
const journal: Journal = {
  ...file,
  async put(entry) {
    await reach('before-put');
    await file.put(entry);
    await reach('after-put');
  },
  async delete(id) {
    await reach('before-delete');
    return file.delete(id);
  },
};

const client = createClient({
  baseUrl: process.env.BASE,
  journal,
  retry: { backoffBase: 5, backoffCap: 20 },
  timeout: 20_000,
  totalTimeout: 30_000,
  backgroundRetry: false,
});
const ledger = client.operation('ledger', {
  request: (input: { opId: string }) => ({ url: '/effects', method: 'POST', json: input }),
  onSuccess: (_response, input) => {
    send({ settled: input.opId });
  },
});

if (mode === 'run') {
  // Opened before 'ready', so a random kill after it lands in the operations' lives, not in start-up.
  await file.open();
  started = performance.now();
  send({ ready: true });
  const results = await Promise.allSettled(ops.map((opId) => ledger.run({ opId })));
  send({ done: results.map((r) => r.status) });
} else {
  const summary = await client.resume({ wait: true });
  send({
    summary: {
      locked: summary.locked,
      resumed: summary.resumed,
      succeeded: summary.succeeded.length,
      pending: summary.pending.length,
      failed: summary.failed.length,
      unknown: summary.unknown.length,
    },
  });
}
await file.close();
process.disconnect?.();

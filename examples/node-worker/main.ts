/**
 * A Node worker that survives SIGKILL: it sends 20 invoices as durable operations through a file
 * journal; this script kills it with SIGKILL while sends are in flight, starts it again, and the new
 * run resumes the journaled operations with their original keys. The server counts the effects
 * per invoice: each happens once.
 *
 *   node examples/node-worker/main.ts
 *
 * In your app, import from the package: 'oncely/server/node' (and 'oncely', 'oncely/node' in the
 * worker).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileJournal } from '../../src/journal/file.ts';
import { keyFrom } from '../../src/key/key-from.ts';
import { idempotency } from '../../src/server/adapters/node-http.ts';
import { memoryStore } from '../../src/server/stores/memory.ts';
import { tempDir } from '../shared/temp-dir.ts';

const INVOICES = 20;
const KILL_AT = 8; // the worker dies the moment the 8th invoice takes effect, before its answer

interface Invoice {
  id: string;
  effects: number;
  keys: Set<string>;
  attempts: number;
}
const invoices = new Map<string, Invoice>();
for (let n = 1; n <= INVOICES; n++) {
  const id = `inv-${String(n).padStart(2, '0')}`;
  invoices.set(id, { id, effects: 0, keys: new Set(), attempts: 0 });
}
let effects = 0;
let onEffect: (total: number) => void = () => {};

// The invoice API: sending an invoice is the effect that must happen once.
const send = idempotency({
  store: memoryStore(),
  scope: () => 'worker',
  wait: true, // a resumed send that finds its first attempt still running waits for its answer
})(async (req, res) => {
  const invoice = invoices.get(req.url?.split('/')[2] ?? '');
  if (!invoice) return void res.writeHead(404).end();
  await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 40));
  invoice.effects += 1;
  onEffect(++effects);
  res.writeHead(201, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ invoice: invoice.id, sent: true }));
});

async function api(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/invoices') {
    const unsent = [...invoices.values()].filter((invoice) => invoice.effects === 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(unsent.map(({ id }) => ({ id }))));
    return;
  }
  const invoice = invoices.get(url.pathname.split('/')[2] ?? '');
  if (invoice) {
    invoice.attempts += 1;
    invoice.keys.add(String(req.headers['idempotency-key']));
  }
  await send(req, res);
}

const server = createServer((req, res) => void api(req, res));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
const dir = tempDir('worker');
const journalPath = join(dir.path, 'invoices.journal');

function startWorker(run: number): ChildProcess {
  const worker = spawn(
    process.execPath,
    [new URL('./worker.ts', import.meta.url).pathname, origin, journalPath],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (worker.stdout) {
    createInterface({ input: worker.stdout }).on('line', (line) =>
      console.log(`  run ${run} | ${line}`),
    );
  }
  return worker;
}

function exited(worker: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    worker.once('close', (code, signal) => resolve(signal ?? `exit ${code}`));
  });
}

try {
  console.log(`run 1: ${INVOICES} invoices, SIGKILL when the ${KILL_AT}th takes effect`);
  const first = startWorker(1);
  onEffect = (total) => {
    // Synchronously, before the handler answers: this invoice's response is lost with the worker.
    if (total === KILL_AT) first.kill('SIGKILL');
  };
  const firstEnd = await exited(first);
  onEffect = () => {};
  const inspector = fileJournal(journalPath, { readOnly: true });
  const left = (await inspector.list()).filter((entry) => entry.state === 'running');
  await inspector.close();
  console.log(`run 1 ended: ${firstEnd}; the journal holds ${left.length} unsettled operations:`);
  for (const entry of left)
    console.log(`  ${entry.key}  (${entry.state}, ${entry.attempts} attempts)`);

  console.log('run 2: the same worker, started again');
  const secondEnd = await exited(startWorker(2));
  console.log(`run 2 ended: ${secondEnd}`);

  const all = [...invoices.values()];
  const once = all.filter((invoice) => invoice.effects === 1).length;
  const twice = all.filter((invoice) => invoice.effects > 1).length;
  const never = all.filter((invoice) => invoice.effects === 0).length;
  const oneKey = all.every(
    (invoice) => invoice.keys.size === 1 && invoice.keys.has(keyFrom('invoice', invoice.id)),
  );
  const attempts = all.reduce((sum, invoice) => sum + invoice.attempts, 0);
  console.log('');
  console.log('tally (counted by the server)');
  console.log(`  invoices             ${INVOICES}`);
  console.log(`  sent once            ${once}`);
  console.log(`  sent more than once  ${twice}`);
  console.log(`  never sent           ${never}`);
  console.log(`  requests received    ${attempts}`);
  console.log(`  one key per invoice  ${oneKey ? 'yes' : 'no'}`);
  const ok = firstEnd === 'SIGKILL' && secondEnd === 'exit 0' && once === INVOICES && oneKey;
  console.log(ok ? 'each invoice was sent exactly once' : 'FAILED');
  process.exitCode = ok ? 0 : 1;
} finally {
  server.close();
  dir.remove();
}

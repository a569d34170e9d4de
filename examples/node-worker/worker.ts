/**
 * The worker: sends every unsent invoice as a durable operation through a file journal, four at a
 * time. On start it first resumes what a crashed run left in the journal, with the keys that run
 * drew. `main.ts` starts it, SIGKILLs it mid-way, and starts it again.
 *
 *   node examples/node-worker/worker.ts <api origin> <journal file>
 *
 * In your app, import from the package: 'oncely' and 'oncely/node'.
 */
import { createClient } from '../../src/client/create-client.ts';
import { isReplayed } from '../../src/client/replayed.ts';
import { fileJournal } from '../../src/journal/file.ts';
import { keyFrom } from '../../src/key/key-from.ts';

const [origin, journalPath] = process.argv.slice(2);
if (!origin || !journalPath) {
  console.error('usage: worker.ts <api origin> <journal file>');
  process.exit(2);
}

const journal = fileJournal(journalPath, {
  onRecover: (report) => console.log(`journal recovered after a crash: ${JSON.stringify(report)}`),
});
const client = createClient({ baseUrl: origin, journal });

interface Invoice {
  id: string;
}

const sendInvoice = client.operation('send-invoice', {
  request: (invoice: Invoice) => ({ url: `invoices/${invoice.id}/send`, method: 'POST', json: {} }),
  // One send per invoice, whatever happens: a crash, a resume, the same invoice queued twice.
  key: (invoice) => keyFrom('invoice', invoice.id),
  onSuccess: (response, invoice, info) => {
    const how = [info.detached ? 'resumed' : '', isReplayed(response) ? 'replayed' : '']
      .filter(Boolean)
      .join(', ');
    console.log(`sent ${invoice?.id}${how ? ` (${how})` : ''}`);
  },
});

// Finish what the last run left: the same keys, so the server replays what it already did.
const summary = await client.resume();
if (summary.resumed > 0) {
  console.log(
    `resumed ${summary.resumed} from the journal: ${summary.succeeded.map((op) => op.key).join(', ')}`,
  );
}

const pending = (await (await client.get('invoices?status=unsent')).json()) as Invoice[];
console.log(`worker ${process.pid}: ${pending.length} invoices to send`);
const queue = [...pending];
await Promise.all(
  Array.from({ length: 4 }, async () => {
    for (let invoice = queue.shift(); invoice; invoice = queue.shift())
      await sendInvoice.run(invoice);
  }),
);
await client.close();
await journal.close();
console.log('worker done');

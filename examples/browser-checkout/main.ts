/**
 * The checkout page's script, bundled by serve.ts with esbuild. The pay button starts a durable
 * operation keyed by the order (`keyFrom('checkout', orderId)`), written to IndexedDB before the
 * request leaves; on every load the page resumes what a reload interrupted, with that same key.
 *
 * In your app, import from the package: 'oncely' and 'oncely/browser'.
 */
import { indexedDbJournal } from '../../src/browser.ts';
import { createClient } from '../../src/client/create-client.ts';
import { isReplayed } from '../../src/client/replayed.ts';
import { keyFrom } from '../../src/key/key-from.ts';

interface Order {
  id: string;
  amount: number;
  currency: string;
}
interface Charge {
  id: string;
  order: string;
  amount: number;
}

const order: Order = {
  id: new URL(location.href).searchParams.get('order') ?? 'order-1001',
  amount: 2500,
  currency: 'EUR',
};
const payButton = document.querySelector<HTMLButtonElement>('#pay');
const status = document.querySelector<HTMLOutputElement>('#status');
const price = new Intl.NumberFormat('en', { style: 'currency', currency: order.currency });

function show(state: 'loading' | 'unpaid' | 'paying' | 'paid' | 'failed', text: string): void {
  if (status) {
    status.dataset.state = state;
    status.textContent = text;
  }
  if (payButton) payButton.disabled = state !== 'unpaid' && state !== 'failed';
}

const client = createClient({
  baseUrl: new URL('/api/', location.href).href,
  journal: indexedDbJournal({ database: 'checkout' }),
});

const pay = client.operation('pay', {
  request: (o: Order) => ({
    url: 'payments',
    method: 'POST',
    json: { order: o.id, amount: o.amount, currency: o.currency },
  }),
  // One payment per order, whatever happens: a double click, a reload, a second tab.
  key: (o) => keyFrom('checkout', o.id),
  onSuccess: async (response, _o, info) => {
    const charge = (await response.json()) as Charge;
    const how = info.detached
      ? ', confirmed after the reload'
      : isReplayed(response)
        ? ', again'
        : '';
    show('paid', `Paid: charge ${charge.id}, ${price.format(charge.amount / 100)}${how}`);
  },
  onError: (error) => show('failed', `Payment failed: ${error.message}`),
});

payButton?.addEventListener('click', () => {
  show('paying', 'Paying…');
  // The outcome reaches onSuccess / onError; a payment still pending after the in-session retries
  // is retried in the background and on the next load, with the same key.
  pay.run(order).catch((error: Error) => {
    if (status?.dataset.state === 'paying') show('paying', `Still trying: ${error.message}`);
  });
});

document.querySelector('#order')?.append(order.id);
document.querySelector('#amount')?.append(price.format(order.amount / 100));

// On load: a payment this order's key left in the journal is resumed; otherwise ask the server.
const key = keyFrom('checkout', order.id);
const interrupted = (await client.journal.list()).some(
  (entry) => entry.key === key && (entry.state === 'running' || entry.state === 'pending'),
);
if (interrupted) {
  show('paying', 'Resuming the payment interrupted by the reload…');
  const summary = await client.resume({ wait: true });
  const mine = (list: readonly { key: string }[]) => list.some((op) => op.key === key);
  if (mine(summary.pending)) {
    show('paying', 'Still trying: the payment is retried in the background');
  } else if (!mine(summary.succeeded) && !mine(summary.failed)) {
    // Left alone: another open tab is sending it right now. Follow the order on the server.
    show('paying', 'Being paid in another tab…');
    await followOrder();
  } // otherwise onSuccess / onError have shown the outcome
} else {
  await showOrder();
}

async function showOrder(): Promise<boolean> {
  const { paid, charge } = (await (await client.get(`orders/${order.id}`)).json()) as {
    paid: boolean;
    charge?: Charge;
  };
  if (paid && charge)
    show('paid', `Paid: charge ${charge.id}, ${price.format(charge.amount / 100)}`);
  else if (status?.dataset.state !== 'paying') show('unpaid', 'Not paid yet');
  return paid;
}

async function followOrder(): Promise<void> {
  while (!(await showOrder())) await new Promise((resolve) => setTimeout(resolve, 500));
}

/**
 * Serves the checkout page (main.ts bundled with esbuild on start) and an idempotent payments API
 * behind oncely's node:http adapter. Payments take a few seconds, as a card network's might, so a
 * person can reload the page mid-payment and watch it resume.
 *
 *   node examples/browser-checkout/serve.ts     # then open http://127.0.0.1:3000/?order=order-1001
 *
 * The test imports `startCheckout()` to hold a payment until it says so.
 * In your app, import from the package: 'oncely/server/node'.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { idempotency } from '../../src/server/adapters/node-http.ts';
import { memoryStore } from '../../src/server/stores/memory.ts';

export interface Charge {
  id: string;
  order: string;
  amount: number;
  currency: string;
  key: string | undefined;
}

export interface CheckoutOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** How long a payment takes. @default 3_000 */
  paymentMs?: number;
}

export interface Checkout {
  origin: string;
  /** Every charge made, in order: one per order however the page retries. */
  charges: Charge[];
  /** Idempotency-Key of every payment request received, before the helper saw it. */
  attempts: (string | undefined)[];
  /** Holds the next payment inside the handler until `release()`. */
  holdNextPayment(): { entered: Promise<void>; release: () => void };
  close(): Promise<void>;
}

const here = new URL('./', import.meta.url);

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [new URL('main.ts', here).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startCheckout(options: CheckoutOptions = {}): Promise<Checkout> {
  const page = readFileSync(new URL('index.html', here), 'utf8');
  const script = await bundle();
  const charges: Charge[] = [];
  const attempts: (string | undefined)[] = [];
  let hold: { enter: () => void; released: Promise<void> } | undefined;

  const payments = idempotency({
    store: memoryStore(),
    // One shop, no accounts here; a real API scopes keys per customer or API key.
    scope: () => 'checkout-example',
    // The page's resumed request may arrive while the first is still being charged: it waits for
    // that answer instead of a 409.
    wait: { timeoutMs: 30_000, pollMs: 20 },
  })(async (req, res, { key }) => {
    const body = await readJson(req);
    const current = hold;
    hold = undefined;
    if (current) {
      current.enter();
      await current.released;
    } else {
      await new Promise((resolve) => setTimeout(resolve, options.paymentMs ?? 3_000));
    }
    const charge = {
      id: `ch_${charges.length + 1}`,
      order: String(body.order),
      amount: Number(body.amount),
      currency: String(body.currency),
      key,
    };
    charges.push(charge);
    json(res, 201, charge);
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    } else if (req.method === 'GET' && url.pathname === '/main.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (req.method === 'POST' && url.pathname === '/api/payments') {
      attempts.push(req.headers['idempotency-key']?.toString());
      await payments(req, res);
    } else if (req.method === 'GET' && url.pathname.startsWith('/api/orders/')) {
      const order = decodeURIComponent(url.pathname.slice('/api/orders/'.length));
      const charge = charges.find((c) => c.order === order);
      json(res, 200, { order, paid: charge !== undefined, charge });
    } else {
      res.writeHead(404).end();
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    charges,
    attempts,
    holdNextPayment() {
      let enter = () => {};
      let release = () => {};
      const entered = new Promise<void>((resolve) => {
        enter = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      hold = { enter, released };
      return { entered, release };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.main) {
  const checkout = await startCheckout({ port: Number(process.env.PORT ?? 3000) });
  console.log(`checkout on ${checkout.origin}/?order=order-1001`);
}

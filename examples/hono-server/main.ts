/**
 * A charges API on Hono 4 (served by @hono/node-server) behind oncely's idempotency middleware,
 * with the in-memory store: one process, nothing to set up.
 *
 *   node examples/hono-server/main.ts               # listens on PORT (default 3000)
 *   node examples/hono-server/main.ts --self-test   # sends itself a retry, a reused key…, exits
 *
 * In your app, import from the package: 'oncely/server/hono' and 'oncely/server'.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { type IdempotencyEnv, idempotency } from '../../src/server/adapters/hono.ts';
import { memoryStore } from '../../src/server/stores/memory.ts';
import { accountOf, chargesInMemory, parseChargeInput } from '../shared/charges.ts';
import { selfTest } from '../shared/self-test.ts';

const selfTesting = process.argv.includes('--self-test');
const charges = chargesInMemory();

type Env = IdempotencyEnv & { Variables: { account: string } };
const app = new Hono<Env>();

// Authentication first: the verified account is the scope, so each account has its own keys.
app.use(async (c, next) => {
  const account = accountOf(c.req.header('x-api-key'));
  if (!account) return c.json({ error: 'a valid x-api-key header is required' }, 401);
  c.set('account', account);
  await next();
});

const once = idempotency({ store: memoryStore(), scope: (c) => c.get('account') as string });

app.post('/charges', once, async (c) => {
  const input = parseChargeInput(await c.req.json().catch(() => undefined));
  if (!input)
    return c.json({ error: 'amount (integer > 0) and currency (ISO 4217) required' }, 400);
  const { key, scope } = c.get('oncely');
  // Runs once per (account, Idempotency-Key); every retry gets this response replayed.
  return c.json(charges.create(scope ?? '', input, key), 201);
});

app.get('/charges', (c) => c.json(charges.list(c.get('account'))));

const server = serve({
  fetch: app.fetch,
  hostname: '127.0.0.1',
  port: selfTesting ? 0 : Number(process.env.PORT ?? 3000),
});
await new Promise<void>((resolve) => server.once('listening', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function shutdown(code: number): Promise<never> {
  await new Promise((resolve) => server.close(resolve));
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

if (selfTesting) {
  await shutdown((await selfTest(origin)) ? 0 : 1);
} else {
  console.log(`charges API (Hono) on ${origin}`);
  console.log(
    `try: curl -i -X POST ${origin}/charges -H 'x-api-key: sk_test_acme' -H 'idempotency-key: order-1' -H 'content-type: application/json' -d '{"amount":500,"currency":"EUR"}'`,
  );
}

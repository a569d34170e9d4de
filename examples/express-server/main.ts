/**
 * A charges API on Express 5 behind oncely's idempotency middleware, with the SQLite store.
 *
 *   node examples/express-server/main.ts               # listens on PORT (default 3000)
 *   node examples/express-server/main.ts --self-test   # sends itself a retry, a reused key…, exits
 *
 * In your app, import from the package: 'oncely/server/express' and 'oncely/server/sqlite'.
 */
import { join } from 'node:path';
import express from 'express';
import { idempotency } from '../../src/server/adapters/express.ts';
import { sqliteStore } from '../../src/server/stores/sqlite.ts';
import { accountOf, chargesInMemory, parseChargeInput } from '../shared/charges.ts';
import { selfTest } from '../shared/self-test.ts';
import { tempDir } from '../shared/temp-dir.ts';

const selfTesting = process.argv.includes('--self-test');
const dir = tempDir('express');
const store = sqliteStore(join(dir.path, 'idempotency.db'));
const charges = chargesInMemory();

const app = express();
app.use(express.json());

// Authentication first: the verified account is the scope, so each account has its own keys.
app.use((req, res, next) => {
  const account = accountOf(req.get('x-api-key'));
  if (!account) {
    res.status(401).json({ error: 'a valid x-api-key header is required' });
    return;
  }
  res.locals.account = account;
  next();
});

// The middleware above let only verified keys through: their account is the scope.
const once = idempotency({ store, scope: (req) => accountOf(req.get('x-api-key')) ?? '' });

app.post('/charges', once, (req, res) => {
  const input = parseChargeInput(req.body);
  if (!input) {
    res.status(400).json({ error: 'amount (integer > 0) and currency (ISO 4217) required' });
    return;
  }
  const { key, scope } = res.locals.oncely as { key: string; scope: string };
  // Runs once per (account, Idempotency-Key); every retry gets this response replayed.
  res.status(201).json(charges.create(scope, input, key));
});

app.get('/charges', (_req, res) => {
  res.json(charges.list(res.locals.account as string));
});

const server = app.listen(selfTesting ? 0 : Number(process.env.PORT ?? 3000), '127.0.0.1');
await new Promise<void>((resolve) => server.once('listening', resolve));
const address = server.address();
const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

async function shutdown(code: number): Promise<never> {
  await new Promise((resolve) => server.close(resolve));
  await store.close();
  dir.remove();
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

if (selfTesting) {
  await shutdown((await selfTest(origin)) ? 0 : 1);
} else {
  console.log(`charges API (Express) on ${origin}`);
  console.log(
    `try: curl -i -X POST ${origin}/charges -H 'x-api-key: sk_test_acme' -H 'idempotency-key: order-1' -H 'content-type: application/json' -d '{"amount":500,"currency":"EUR"}'`,
  );
}

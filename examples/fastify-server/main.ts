/**
 * A charges API on Fastify 5 behind oncely's idempotency plugin, with the SQLite store.
 *
 *   node examples/fastify-server/main.ts               # listens on PORT (default 3000)
 *   node examples/fastify-server/main.ts --self-test   # sends itself a retry, a reused key…, exits
 *
 * In your app, import from the package: 'oncely/server/fastify' and 'oncely/server/sqlite'.
 */
import { join } from 'node:path';
import Fastify from 'fastify';
import { idempotency } from '../../src/server/adapters/fastify.ts';
import { sqliteStore } from '../../src/server/stores/sqlite.ts';
import { accountOf, chargesInMemory, parseChargeInput } from '../shared/charges.ts';
import { selfTest } from '../shared/self-test.ts';
import { tempDir } from '../shared/temp-dir.ts';

const selfTesting = process.argv.includes('--self-test');
const dir = tempDir('fastify');
const store = sqliteStore(join(dir.path, 'idempotency.db'));
const charges = chargesInMemory();

const app = Fastify();
declare module 'fastify' {
  interface FastifyRequest {
    /** The account of the verified API key. */
    account: string;
  }
}
app.decorateRequest('account', '');

// Authentication first: the verified account is the scope, so each account has its own keys.
app.addHook('onRequest', async (request, reply) => {
  const account = accountOf(request.headers['x-api-key']?.toString());
  if (!account) return reply.code(401).send({ error: 'a valid x-api-key header is required' });
  request.account = account;
});

// Registered on the root instance, the plugin guards every route: safe methods pass untouched.
await app.register(idempotency({ store, scope: (request) => request.account }));

app.post('/charges', async (request, reply) => {
  const input = parseChargeInput(request.body);
  if (!input) {
    return reply.code(400).send({ error: 'amount (integer > 0) and currency (ISO 4217) required' });
  }
  // Runs once per (account, Idempotency-Key); every retry gets this response replayed.
  return reply.code(201).send(charges.create(request.account, input, request.oncely?.key));
});

app.get('/charges', async (request) => charges.list(request.account));

const origin = await app.listen({
  host: '127.0.0.1',
  port: selfTesting ? 0 : Number(process.env.PORT ?? 3000),
});

async function shutdown(code: number): Promise<never> {
  await app.close();
  await store.close();
  dir.remove();
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

if (selfTesting) {
  await shutdown((await selfTest(origin)) ? 0 : 1);
} else {
  console.log(`charges API (Fastify) on ${origin}`);
  console.log(
    `try: curl -i -X POST ${origin}/charges -H 'x-api-key: sk_test_acme' -H 'idempotency-key: order-1' -H 'content-type: application/json' -d '{"amount":500,"currency":"EUR"}'`,
  );
}

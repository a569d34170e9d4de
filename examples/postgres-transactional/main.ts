/**
 * PostgreSQL in transactional mode: the charge row the handler inserts through `tx`, the claim on
 * the key and the stored response commit together, or roll back together. Served by the node:http
 * adapter; the script then sends itself the cases and prints what the database holds after each.
 *
 *   DATABASE_URL=postgres://… node examples/postgres-transactional/main.ts
 *
 * (ONCELY_POSTGRES_URL works too.) It creates two tables with a per-run suffix and drops them at the
 * end. In your app, import from the package: 'oncely/server/node' and 'oncely/server/postgres'.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { idempotency } from '../../src/server/adapters/node-http.ts';
import { postgresStore } from '../../src/server/stores/postgres.ts';
import { accountOf } from '../shared/charges.ts';

const url = process.env.DATABASE_URL || process.env.ONCELY_POSTGRES_URL;
if (!url) {
  console.error('Set DATABASE_URL (or ONCELY_POSTGRES_URL) to a PostgreSQL database.');
  process.exit(2);
}

const suffix = `${process.pid}_${Date.now()}`;
const chargesTable = `example_charges_${suffix}`;
const recordsTable = `example_oncely_${suffix}`;

const pool = new pg.Pool({ connectionString: url, max: 6, connectionTimeoutMillis: 5_000 });
await pool.query(`CREATE TABLE ${chargesTable} (
  id BIGSERIAL PRIMARY KEY,
  account TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  amount INTEGER NOT NULL
)`);
const store = postgresStore(pool, { table: recordsTable });

/** The payment provider the handler calls after inserting the charge; the script breaks it once. */
const provider = {
  down: false,
  async capture(amount: number): Promise<string> {
    if (this.down) throw new Error('payment provider unavailable');
    return `cap_${amount}_${Math.random().toString(36).slice(2, 8)}`;
  },
};

async function readJson(req: IncomingMessage): Promise<{ amount: number }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString());
}

const guarded = idempotency<pg.PoolClient>({
  store,
  transactional: true,
  // Only verified keys get this far (see the server below): their account is the scope.
  scope: (req) => accountOf(req.headers['x-api-key']?.toString()) ?? '',
  onError: (error) => console.log(`  handler threw: ${(error as Error).message}`),
})(async (req, res, { tx, key, scope }) => {
  // Set on every guarded request in transactional mode (a POST without a key never gets here).
  if (!tx) throw new Error('no transaction: is the store transactional?');
  const { amount } = await readJson(req);
  // Written through the transaction: it commits with the stored response, or not at all.
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO ${chargesTable} (account, idempotency_key, amount) VALUES ($1, $2, $3) RETURNING id`,
    [scope, key, amount],
  );
  // A failure after the insert (here the provider) rolls the insert back, and frees the key.
  const capture = await provider.capture(amount);
  res.writeHead(201, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ charge: rows[0]?.id, amount, capture }));
});

// Authentication first: the scope is the account of a verified API key, never the header as sent.
const server = createServer((req, res) => {
  if (accountOf(req.headers['x-api-key']?.toString()) === undefined) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'a valid x-api-key header is required' }));
    return;
  }
  void guarded(req, res);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function post(key: string, amount: number, apiKey = 'sk_test_acme') {
  const response = await fetch(`${origin}/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'idempotency-key': key },
    body: JSON.stringify({ amount }),
  });
  const replayed = response.headers.get('idempotent-replayed') === 'true';
  return { status: response.status, replayed, body: await response.text() };
}

/** What the database holds for one key: charge rows, and the helper's record (by its key suffix). */
async function state(key: string): Promise<{ charges: number; records: number }> {
  const charges = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${chargesTable} WHERE idempotency_key = $1`,
    [key],
  );
  const records = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${recordsTable} WHERE id LIKE '%:' || $1`,
    [key],
  );
  return { charges: charges.rows[0]?.n ?? 0, records: records.rows[0]?.n ?? 0 };
}

const failures: string[] = [];
async function step(label: string, key: string, amount: number, expected: string, apiKey?: string) {
  const answer = await post(key, amount, apiKey);
  const held = await state(key);
  const replay = answer.replayed ? ' (replayed)' : '';
  console.log(
    `${label.padEnd(40)} ${answer.status}${replay}  charges: ${held.charges}  records: ${held.records}`,
  );
  const got = `${answer.status}${replay} ${held.charges}/${held.records}`;
  if (got !== expected) failures.push(`${label}: expected ${expected}, got ${got}`);
  return answer;
}

try {
  const run = Date.now().toString(36);
  const a = `pay-a-${run}`;
  const b = `pay-b-${run}`;
  const c = `pay-c-${run}`;
  const d = `pay-d-${run}`;

  const first = await step('POST pay-a', a, 500, '201 1/1');
  const retry = await step('POST pay-a again (a retry)', a, 500, '201 (replayed) 1/1');
  if (retry.body !== first.body) failures.push('the replay differs from the first response');

  provider.down = true;
  await step('POST pay-b, provider down', b, 700, '500 0/0');
  provider.down = false;
  await step('POST pay-b again, provider up', b, 700, '201 1/1');

  // Two at once: the second blocks on the key's row until the first commits, then replays it.
  const [x, y] = await Promise.all([post(c, 900), post(c, 900)]);
  const held = await state(c);
  console.log(
    `${'POST pay-c twice at once'.padEnd(40)} ${x.status}, ${y.status}  charges: ${held.charges}  records: ${held.records}  replays: ${Number(x.replayed) + Number(y.replayed)}`,
  );
  if (x.status !== 201 || y.status !== 201 || held.charges !== 1 || x.replayed === y.replayed) {
    failures.push('concurrent duplicates did not give one charge and one replay');
  }

  await step('POST pay-d, unknown API key', d, 500, '401 0/0', 'acme');
} finally {
  await new Promise((resolve) => server.close(resolve));
  await store.close();
  await pool.query(`DROP TABLE IF EXISTS ${chargesTable}, ${recordsTable}`);
  await pool.end();
}

for (const failure of failures) console.log(`FAILED: ${failure}`);
console.log(failures.length === 0 ? 'every charge happened once' : 'failed');
process.exitCode = failures.length === 0 ? 0 : 1;

/**
 * One server process of the chaos suite: `POST /effects` behind `idempotency()`, whose handler
 * writes one row to the ledger per run. Run with Node 24: `node chaos/server.ts`, configured by
 *   CHAOS_STORE      sqlite | redis | postgres (PostgreSQL runs the transactional mode)
 *   CHAOS_TARGET     the SQLite file, or the Redis or PostgreSQL URL
 *   CHAOS_NAMESPACE  Redis key prefix or SQL table prefix
 *   CHAOS_PORT       port to listen on (kept across restarts, so the proxy finds it again)
 *   CHAOS_LEASE_MS   the lease (short, so a retry takes over a killed server's key soon)
 *   CHAOS_ATTEMPTS   file to which every attempt's operation id and key are appended
 *   CHAOS_ADAPTER    `web` (default): `idempotency()` on node:http; `node`: `oncely/server/node`
 *   CHAOS_GUARD      `off` for the control run: the handler runs without the helper
 * It prints `{"port":N}` once listening. A request with `x-chaos-kill: 1` kills the process with
 * SIGKILL in the middle of the handler. Lease takeovers and lost leases are logged as `#takeover`
 * and `#lost` lines in the attempts file.
 */

import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve } from '@hono/node-server';
import pg from 'pg';
import { createClient } from 'redis';
import { idempotency as idempotencyNode } from '../src/server/adapters/node-http.ts';
import { type IdempotencyEvent, idempotency, KEY_HEADER, type Store } from '../src/server/index.ts';
import { postgresStore } from '../src/server/stores/postgres.ts';
import { redisStore } from '../src/server/stores/redis.ts';
import { sqliteStore } from '../src/server/stores/sqlite.ts';
import { type ChaosStore, type LedgerTarget, openLedger } from './ledger.ts';
import { KILL_HEADER, operationOf } from './proxy.ts';

type WebHandler = (request: Request, context: { key?: string; tx: unknown }) => Promise<Response>;
type NodeHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  context: { key?: string; tx: unknown },
) => Promise<void>;

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};
const target: LedgerTarget = {
  store: env('CHAOS_STORE') as ChaosStore,
  target: env('CHAOS_TARGET'),
  namespace: env('CHAOS_NAMESPACE'),
};
const attemptsLog = env('CHAOS_ATTEMPTS');
const cleanups: (() => unknown)[] = [];

let store: Store;
if (target.store === 'sqlite') {
  // NORMAL in WAL mode: a commit survives a killed process (what the chaos does), not a power cut;
  // FULL would fsync on each of the three commits per request, on a blocked event loop.
  store = sqliteStore({
    path: target.target,
    table: `${target.namespace}_records`,
    synchronous: 'normal',
  });
} else if (target.store === 'postgres') {
  const pool = new pg.Pool({ connectionString: target.target, max: 20 });
  cleanups.push(() => pool.end());
  store = postgresStore(pool, { table: `${target.namespace}_records` });
} else {
  const client = await createClient({ url: target.target }).connect();
  cleanups.push(() => client.destroy());
  store = redisStore(client, { prefix: `${target.namespace}:` });
}
const ledger = await openLedger(target);
cleanups.push(
  () => ledger.close(),
  () => store.close?.(),
);
// Transactional mode where the store has it: the effect and the stored response commit together,
// so even a kill after the effect leaves nothing behind. Elsewhere the kill comes before the effect
// (docs/reliability.md: what a non-transactional store cannot promise).
const guard = process.env.CHAOS_GUARD !== 'off';
const transactional = guard && target.store === 'postgres';

// Keys whose effect is on the ledger but whose response is not yet stored. Without a transaction a
// crash in that window makes the takeover run the handler again: no idempotency layer can prevent
// it, only an effect that commits with the record (docs/reliability.md). So a non-transactional
// kill waits until no handler is in that window and holds back new effects meanwhile.
const committing = new Set<string>();
let killing = false;
const log = (line: string) => appendFileSync(attemptsLog, `${line}\n`);

async function killMidHandler(): Promise<void> {
  killing = true;
  for (let waited = 0; committing.size > 0; waited += 5) {
    // Never drained (a store call hangs): no kill this time; the proxy sees the answer.
    if (waited > 3_000) {
      killing = false;
      return;
    }
    await sleep(5);
  }
  process.kill(process.pid, 'SIGKILL');
}

const options = {
  store,
  scope: () => 'chaos',
  leaseMs: Number(process.env.CHAOS_LEASE_MS ?? 1_000),
  transactional,
  onEvent: (event: IdempotencyEvent) => {
    if (event.type === 'complete' || event.type === 'release') committing.delete(event.key);
    if (event.type === 'lost' || event.type === 'takeover') {
      committing.delete(event.key);
      log(`#${event.type}\t${event.key}`);
    }
  },
};

/** The handler's work, whatever the adapter: one effect on the ledger, maybe a kill. */
async function effect(op: string, key: string, tx: unknown, kill: boolean) {
  await sleep(1 + Math.random() * 4);
  if (!transactional) {
    if (kill) await killMidHandler();
    // A kill is under way: this handler dies with the process, before its effect.
    while (killing) await sleep(5);
    // Unguarded, no event would ever clear it (and nothing is stored to wait for).
    if (guard) committing.add(key);
  }
  await ledger.record(op, key, tx);
  // In a transaction the kill may come after the effect: it rolls back with the record.
  if (kill && transactional) process.kill(process.pid, 'SIGKILL');
  // A fresh id per run: a replay shows the first run's body, a second run would show another.
  return { op, effect: randomUUID(), pid: process.pid };
}

let server: Server;
if (process.env.CHAOS_ADAPTER === 'node') {
  // oncely/server/node on a plain node:http server. It reads the body itself, so attempts are
  // logged here per handler run; the proxy logs every attempt.
  const handler: NodeHandler = async (req, res, { key, tx }) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const op = operationOf(Buffer.concat(chunks)) ?? '';
    log(`${op}\t${key ?? ''}`);
    const body = await effect(op, String(key), tx, req.headers[KILL_HEADER] === '1');
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  // node:http lower-cases header names: read as 'Idempotency-Key', every key would be missing.
  const keyOf = (req: IncomingMessage) => req.headers[KEY_HEADER.toLowerCase()] as string;
  server = createServer(
    guard
      ? idempotencyNode(options)(handler)
      : (req, res) => handler(req, res, { key: keyOf(req), tx: undefined }),
  );
  server.listen(Number(env('CHAOS_PORT')), '127.0.0.1', () =>
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`),
  );
} else {
  // The web-standard idempotency() on node:http (@hono/node-server); every attempt is logged
  // before the helper sees it.
  const handler: WebHandler = async (request, { key, tx }) => {
    const { op } = (await request.json()) as { op: string };
    const kill = request.headers.get(KILL_HEADER) === '1';
    return Response.json(await effect(op, String(key), tx, kill), { status: 201 });
  };
  const guarded = guard
    ? idempotency(options)(handler)
    : (request: Request) =>
        handler(request, { key: request.headers.get(KEY_HEADER) ?? undefined, tx: undefined });
  const fetch = async (request: Request): Promise<Response> => {
    const body = new Uint8Array(await request.arrayBuffer());
    const op = operationOf(body);
    // Written before anything else, synchronously: the line survives a SIGKILL that follows.
    if (op !== undefined) log(`${op}\t${request.headers.get(KEY_HEADER) ?? ''}`);
    return guarded(
      new Request(request.url, { method: request.method, headers: request.headers, body }),
    );
  };
  server = serve({ fetch, port: Number(env('CHAOS_PORT')), hostname: '127.0.0.1' }, (info) =>
    process.stdout.write(`${JSON.stringify({ port: info.port })}\n`),
  ) as Server;
}

// stdin is a pipe from the orchestrator: its end means the orchestrator died, so this server goes too.
process.stdin.resume();
process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));

process.on('SIGTERM', () => {
  server.close();
  void Promise.allSettled(cleanups.map((cleanup) => cleanup())).finally(() => process.exit(0));
});

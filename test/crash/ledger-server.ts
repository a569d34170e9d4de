/**
 * The crash tests' server: oncely's own `idempotency()` helper over a memory store, in front of a
 * handler that records each operation's effect in a ledger. Every attempt is logged with its key
 * before the helper sees it, so a test can check that all attempts of one operation carried one key.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { idempotency, memoryStore } from '../../src/server/index.ts';

export interface Attempt {
  opId: string;
  key: string | null;
  authorization: string | null;
}

export interface LedgerServer {
  origin: string;
  attempts: Attempt[];
  /** Effects per operation id: must end at exactly 1 for every operation that was journaled. */
  effects: Map<string, number>;
  /** Makes the handler wait for `release()` before acting on `opId`. */
  hold(opId: string): { entered: Promise<void>; release: () => void };
  /** Random handler delay, in ms, to widen the window where a request is in flight. */
  jitterMs: number;
  close(): Promise<void>;
}

/** A file served as is on GET (the browser test's page and bundle). */
export interface StaticFile {
  type: string;
  body: string;
}

/** Starts the server on 127.0.0.1; `files` are served on GET by path, everything else is the API. */
export async function startLedgerServer(
  files: Record<string, StaticFile> = {},
): Promise<LedgerServer> {
  const attempts: Attempt[] = [];
  const effects = new Map<string, number>();
  const holds = new Map<string, { enter: () => void; released: Promise<void> }>();
  const state = { jitterMs: 0 };

  const guarded = idempotency({
    store: memoryStore(),
    scope: () => 'crash-test',
    // A retry that arrives while the first request is still held waits for its answer (no 409).
    wait: { timeoutMs: 15_000, pollMs: 5 },
  })(async (request) => {
    const { opId } = (await request.json()) as { opId: string };
    const hold = holds.get(opId);
    if (hold) {
      hold.enter();
      await hold.released;
    }
    if (state.jitterMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * state.jitterMs));
    }
    const count = (effects.get(opId) ?? 0) + 1;
    effects.set(opId, count);
    return Response.json({ opId, effect: count }, { status: 201 });
  });

  const server = createServer((req, res) => {
    void serve(req, res).catch(() => res.destroy());
  });
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const file = req.method === 'GET' ? files[req.url ?? ''] : undefined;
    if (file) {
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const opId = (JSON.parse(body.toString() || '{}') as { opId?: string }).opId ?? '';
    attempts.push({
      opId,
      key: req.headers['idempotency-key']?.toString() ?? null,
      authorization: req.headers.authorization ?? null,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: body.length > 0 ? body : null,
    });
    // The client may be dead by now (SIGKILL): the handler runs to its end all the same.
    const response = await guarded(request);
    const payload = Buffer.from(await response.arrayBuffer());
    res.on('error', () => {});
    res.writeHead(response.status, Object.fromEntries(response.headers)).end(payload);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    attempts,
    effects,
    get jitterMs() {
      return state.jitterMs;
    },
    set jitterMs(value: number) {
      state.jitterMs = value;
    },
    hold(opId) {
      let enter = () => {};
      let release = () => {};
      const entered = new Promise<void>((resolve) => {
        enter = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.set(opId, { enter, released });
      return { entered, release };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

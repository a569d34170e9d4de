/**
 * The fault-injecting HTTP proxy of the chaos suite: it stands between the clients and one or two
 * server processes (round-robin), and on each attempt, at `faultRate`, injects one fault of
 * {@link PROXY_FAULTS}. It also counts every attempt and the keys each operation was sent with, as
 * seen on the wire.
 */
import { Buffer } from 'node:buffer';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { KEY_HEADER, REPLAYED_HEADER } from '../src/protocol.ts';
import { emptyFaultCounts, FAULT_KINDS, type FaultKind, PROXY_FAULTS } from './faults.ts';

/** Header the proxy adds to a request whose server must die in the middle of the handler. */
export const KILL_HEADER = 'x-chaos-kill';

export interface ChaosProxyOptions {
  /** Ports of the server processes, tried in turn. */
  upstreams: readonly number[];
  /** Probability that an attempt meets a fault. */
  faultRate: number;
  /** Relative weight of each proxy fault; a kind absent or at 0 is never drawn. */
  weights?: Partial<Record<FaultKind, number>>;
  random: () => number;
  /** Seconds in the `Retry-After` of the 503 and 429 the proxy answers. @default 1 */
  retryAfterSeconds?: number;
  /** Whether a server kill may be injected now (one at a time, with spacing). @default () => false */
  mayKillServer?: () => boolean;
  /** Called when a server kill is injected, with the port of the server told to die. */
  onServerKill?: (port: number) => void;
  /**
   * Called when the server told to die answered instead (the key was already completed, so the
   * handler never ran): the attempt counts as an ordinary one.
   */
  onServerKillMissed?: (port: number) => void;
}

/** What the proxy saw. */
export interface ProxyStats {
  /** Requests the clients sent (the proxy's own duplicates excluded). */
  attempts: number;
  faults: Record<FaultKind, number>;
  /** Responses forwarded with `Idempotent-Replayed: true`. */
  replays: number;
  /** 409 answers from a server, the proxy's duplicates included. */
  conflicts: number;
  /** Attempts answered 503 because no server was reachable (one was restarting). */
  noServer: number;
  /** Answers forwarded to the clients by status, and `gone` for clients that hung up first. */
  answers: Record<string, number>;
  /** Keys sent per operation id, in order of first use (`''` for an attempt without one). */
  keys: Map<string, string[]>;
}

export interface ChaosProxy {
  readonly port: number;
  readonly stats: ProxyStats;
  close(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded; the body is sent with a fresh length.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'content-length',
]);

/** Starts the proxy on a free loopback port. */
export async function startChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const stats: ProxyStats = {
    attempts: 0,
    faults: emptyFaultCounts(),
    replays: 0,
    conflicts: 0,
    noServer: 0,
    answers: {},
    keys: new Map(),
  };
  const weights = PROXY_FAULTS.map((kind) => [kind, options.weights?.[kind] ?? 1] as const).filter(
    ([, weight]) => weight > 0,
  );
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let next = 0;

  function draw(): FaultKind | undefined {
    if (options.random() >= options.faultRate) return undefined;
    const allowed = weights.filter(
      ([kind]) => kind !== FAULT_KINDS.serverKill || (options.mayKillServer?.() ?? false),
    );
    const total = allowed.reduce((sum, [, weight]) => sum + weight, 0);
    let pick = options.random() * total;
    for (const [kind, weight] of allowed) {
      pick -= weight;
      if (pick < 0) return kind;
    }
    return allowed.at(-1)?.[0];
  }

  function send(port: number, req: IncomingMessage, body: Buffer, extra: Record<string, string>) {
    return new Promise<Upstream>((resolve, reject) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      Object.assign(headers, extra, { 'content-length': String(body.length) });
      const upstream = httpRequest(
        { host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 502,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          );
          response.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  // Round-robin; a server that refuses (restarting) is skipped for the next one.
  async function forward(req: IncomingMessage, body: Buffer, extra: Record<string, string> = {}) {
    const { upstreams } = options;
    let lastError: unknown;
    for (let tried = 0; tried < upstreams.length; tried++) {
      const port = upstreams[next++ % upstreams.length] as number;
      try {
        return { port, response: await send(port, req, body, extra) };
      } catch (error) {
        lastError = error;
        if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED') break;
      }
    }
    throw lastError;
  }

  function count(answer: string) {
    stats.answers[answer] = (stats.answers[answer] ?? 0) + 1;
  }

  function reply(res: ServerResponse, upstream: Upstream) {
    if (res.destroyed) {
      count('gone');
      return;
    }
    count(String(upstream.status));
    if (upstream.status === 409) stats.conflicts++;
    if (upstream.headers[REPLAYED_HEADER.toLowerCase()] === 'true') stats.replays++;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['content-length'] = String(upstream.body.length);
    res.writeHead(upstream.status, headers);
    res.end(upstream.body);
  }

  // As a load balancer does while every backend restarts: 503, and when to come back.
  function noServer(res: ServerResponse) {
    stats.noServer++;
    if (res.headersSent || res.destroyed) return;
    res.writeHead(503, { 'retry-after': retryAfter, 'content-type': 'text/plain' });
    res.end('no server reachable');
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    stats.attempts++;
    const op = operationOf(body);
    const header = req.headers[KEY_HEADER.toLowerCase()];
    if (typeof op === 'string') {
      // Keyless as '' (as the servers log it): a retry that lost its key counts as a changed key.
      const key = typeof header === 'string' ? header : '';
      const keys = stats.keys.get(op);
      if (keys === undefined) stats.keys.set(op, [key]);
      else if (!keys.includes(key)) keys.push(key);
    }
    const fault = draw();
    if (fault !== undefined) stats.faults[fault]++;
    switch (fault) {
      case FAULT_KINDS.reset:
        req.socket.resetAndDestroy();
        return;
      case FAULT_KINDS.unavailable:
      case FAULT_KINDS.tooMany:
        res.writeHead(fault === FAULT_KINDS.unavailable ? 503 : 429, {
          'retry-after': retryAfter,
          'content-type': 'text/plain',
        });
        res.end('injected by the chaos proxy');
        return;
      case FAULT_KINDS.drop:
        try {
          await forward(req, body);
        } finally {
          req.socket.resetAndDestroy();
        }
        return;
      case FAULT_KINDS.hang: {
        // The server does the work; its answer is held until the client gives up and hangs up.
        await forward(req, body).catch(() => undefined);
        if (!res.destroyed) await new Promise((resolve) => res.once('close', resolve));
        return;
      }
      case FAULT_KINDS.duplicate: {
        const [original, copy] = await Promise.allSettled([forward(req, body), forward(req, body)]);
        if (copy.status === 'fulfilled' && copy.value.response.status === 409) stats.conflicts++;
        if (original.status === 'fulfilled') reply(res, original.value.response);
        else noServer(res);
        return;
      }
      case FAULT_KINDS.serverKill: {
        const port = options.upstreams[next % options.upstreams.length] as number;
        options.onServerKill?.(port);
        let response: Upstream;
        try {
          response = await forwardTo(port, req, body, { [KILL_HEADER]: '1' });
        } catch {
          // The server died with the request: the client sees the connection drop.
          req.socket.resetAndDestroy();
          return;
        }
        stats.faults[fault]--;
        options.onServerKillMissed?.(port);
        reply(res, response);
        return;
      }
      default:
        try {
          reply(res, (await forward(req, body)).response);
        } catch {
          noServer(res);
        }
    }
  }

  function forwardTo(
    port: number,
    req: IncomingMessage,
    body: Buffer,
    extra: Record<string, string>,
  ) {
    next++;
    return send(port, req, body, extra);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!req.socket.destroyed) req.socket.resetAndDestroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The logical operation id every chaos request carries in its JSON body (`{ "op": … }`). */
export function operationOf(body: Uint8Array): string | undefined {
  try {
    const op = (JSON.parse(Buffer.from(body).toString('utf8')) as { op?: unknown }).op;
    return typeof op === 'string' ? op : undefined;
  } catch {
    return undefined;
  }
}

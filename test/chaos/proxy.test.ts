/**
 * The chaos proxy does what each fault claims: what the client sees, and what reached the server.
 * A chaos run that passes with faults that do nothing would prove nothing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS, type FaultKind, PROXY_FAULTS, seededRandom } from '../../chaos/faults.ts';
import { type ChaosProxyOptions, KILL_HEADER, startChaosProxy } from '../../chaos/proxy.ts';

let upstream: Server;
let port: number;
const received: { key: string | undefined; kill: boolean; body: string }[] = [];

beforeAll(async () => {
  upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const kill = req.headers[KILL_HEADER] === '1';
      received.push({ key: req.headers['idempotency-key'] as string | undefined, kill, body });
      // A server told to die drops the connection, as a SIGKILLed process would.
      if (kill && body.includes('"die"')) {
        req.socket.destroy();
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json', 'idempotent-replayed': 'true' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  port = (upstream.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => upstream.close(resolve)));

/** A proxy that injects `kind` on every attempt. */
async function proxyWith(kind: FaultKind | undefined, extra: Partial<ChaosProxyOptions> = {}) {
  const weights = Object.fromEntries(PROXY_FAULTS.map((k) => [k, k === kind ? 1 : 0]));
  return startChaosProxy({
    upstreams: [port],
    faultRate: kind === undefined ? 0 : 1,
    weights,
    random: seededRandom(1),
    ...extra,
  });
}

async function send(proxyPort: number, op: string, key: string, timeoutMs = 2_000) {
  received.length = 0;
  return fetch(`http://127.0.0.1:${proxyPort}/effects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ op }),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

describe('chaos proxy', () => {
  it('forwards untouched at fault rate 0, and records attempts, keys and replays', async () => {
    const proxy = await proxyWith(undefined);
    try {
      const response = await send(proxy.port, 'op-1', 'k-1');
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ op: 'op-1' });
      await send(proxy.port, 'op-1', 'k-2');
      expect(proxy.stats.attempts).toBe(2);
      expect(proxy.stats.replays).toBe(2);
      expect(proxy.stats.keys.get('op-1')).toEqual(['k-1', 'k-2']);
      expect(Object.values(proxy.stats.faults).every((n) => n === 0)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('records an attempt without a key as a key of its own: a lost key is a changed key', async () => {
    const proxy = await proxyWith(undefined);
    try {
      await send(proxy.port, 'op-n', 'k-n');
      await fetch(`http://127.0.0.1:${proxy.port}/effects`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ op: 'op-n' }),
      });
      expect(proxy.stats.keys.get('op-n')).toEqual(['k-n', '']);
    } finally {
      await proxy.close();
    }
  });

  it('reset: the connection drops and the server never sees the request', async () => {
    const proxy = await proxyWith(FAULT_KINDS.reset);
    try {
      await expect(send(proxy.port, 'op-r', 'k')).rejects.toThrow();
      expect(received).toHaveLength(0);
      expect(proxy.stats.faults.reset).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('drop: the server handles the request, the client gets no response', async () => {
    const proxy = await proxyWith(FAULT_KINDS.drop);
    try {
      await expect(send(proxy.port, 'op-d', 'k')).rejects.toThrow();
      expect(received).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it.each([
    [FAULT_KINDS.unavailable, 503],
    [FAULT_KINDS.tooMany, 429],
  ] as const)('%s: answered with Retry-After, not forwarded', async (kind, status) => {
    const proxy = await proxyWith(kind);
    try {
      const response = await send(proxy.port, 'op-s', 'k');
      expect(response.status).toBe(status);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(received).toHaveLength(0);
    } finally {
      await proxy.close();
    }
  });

  it('hang: the server handles it, the answer never comes before the client gives up', async () => {
    const proxy = await proxyWith(FAULT_KINDS.hang);
    try {
      await expect(send(proxy.port, 'op-h', 'k', 300)).rejects.toThrow();
      expect(received).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('duplicate: the server gets two copies at once, the client one answer', async () => {
    const proxy = await proxyWith(FAULT_KINDS.duplicate);
    try {
      const response = await send(proxy.port, 'op-2', 'k-dup');
      expect(response.status).toBe(201);
      expect(received.map((r) => r.key)).toEqual(['k-dup', 'k-dup']);
      expect(proxy.stats.attempts).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('server kill: only when allowed; a server that answers instead does not count', async () => {
    const killed: number[] = [];
    const missed: number[] = [];
    let allowed = false;
    const proxy = await proxyWith(FAULT_KINDS.serverKill, {
      mayKillServer: () => allowed,
      onServerKill: (p) => killed.push(p),
      onServerKillMissed: (p) => missed.push(p),
    });
    try {
      // Not allowed and no other kind weighted: the attempt goes through untouched.
      expect((await send(proxy.port, 'op-k', 'k')).status).toBe(201);
      expect(received[0]?.kill).toBe(false);
      allowed = true;
      await expect(send(proxy.port, 'die', 'k')).rejects.toThrow();
      expect(received[0]?.kill).toBe(true);
      expect(killed).toEqual([port]);
      expect(proxy.stats.faults[FAULT_KINDS.serverKill]).toBe(1);
      expect((await send(proxy.port, 'op-k', 'k')).status).toBe(201);
      expect(missed).toEqual([port]);
      expect(proxy.stats.faults[FAULT_KINDS.serverKill]).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});

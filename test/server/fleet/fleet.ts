import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const script = fileURLToPath(new URL('./server.ts', import.meta.url));

/** Two (or more) server processes started from `server.ts` with `env`. */
export interface Fleet {
  ports: number[];
  stop(): Promise<void>;
}

/** Starts `size` server processes on one shared store and waits until each listens. */
export async function startFleet(env: Record<string, string>, size = 2): Promise<Fleet> {
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }),
    );
  };
  try {
    const ports = await Promise.all(
      Array.from({ length: size }, async () => {
        // process.execPath: the Node 24 running the tests, which runs .ts directly.
        const child = spawn(process.execPath, [script], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
        const exited = once(child, 'exit').then(([code]) => {
          throw new Error(`fleet server exited with ${code} before listening`);
        });
        const listening = (async () => {
          for await (const line of lines) return (JSON.parse(line) as { port: number }).port;
          throw new Error('fleet server closed its output before listening');
        })();
        return Promise.race([listening, exited]);
      }),
    );
    return { ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One answer as the test sees it. */
export interface Answer {
  status: number;
  replayed: boolean;
  body: Buffer;
  headers: Headers;
}

/** POSTs one charge with `key` to the server on `port`. */
export async function charge(port: number, key: string): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}/charge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ amount: 1_000, currency: 'eur' }),
  });
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed') === 'true',
    body: Buffer.from(await response.arrayBuffer()),
    headers: response.headers,
  };
}

/**
 * The fleet scenario: a hundred concurrent requests for one key spread over the servers, then
 * replays on each. Asserts what a client can see; `runs()` reports how often the handler ran,
 * read from the shared database.
 */
export async function hundredForOneKey(fleet: Fleet, runs: (key: string) => Promise<number>) {
  const key = `fleet-${randomUUID()}`;
  const burst = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      charge(fleet.ports[i % fleet.ports.length] as number, key),
    ),
  );
  expect(await runs(key)).toBe(1);

  const statuses = new Set(burst.map((answer) => answer.status));
  expect([...statuses].every((status) => status === 201 || status === 409)).toBe(true);
  const originals = burst.filter((answer) => answer.status === 201 && !answer.replayed);
  expect(originals).toHaveLength(1);
  const original = (originals[0] as Answer).body;
  for (const answer of burst) {
    if (answer.status === 201) expect(answer.body.equals(original)).toBe(true);
    else {
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  }

  const replays = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      charge(fleet.ports[i % fleet.ports.length] as number, key),
    ),
  );
  for (const replay of replays) {
    expect(replay.status).toBe(201);
    expect(replay.replayed).toBe(true);
    expect(replay.body.equals(original)).toBe(true);
  }
  expect(await runs(key)).toBe(1);
  return {
    conflicts: burst.filter((answer) => answer.status === 409).length,
    replays: burst.filter((answer) => answer.replayed).length,
  };
}

/** Spawns an example as a user would (`node examples/<name>/main.ts`) on this test's Node. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnExample(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
  file = 'main.ts',
): ChildProcess {
  return spawn(process.execPath, [`examples/${name}/${file}`, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's output until it exits. */
export function finished(child: ChildProcess): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runExample(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Finished> {
  return finished(spawnExample(name, args, env));
}

/** Resolves with the first stdout match of `pattern` (the child keeps running). */
export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = seen.match(pattern);
      if (match) {
        child.stdout?.off('data', onData);
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited (${code}) before ${pattern}: ${seen}`)));
  });
}

/**
 * The cases every server example must pass: its own `--self-test`, and, started as a server, a
 * POST sent twice with one key from outside (one charge, the second answer a replay).
 */
export function serverExampleCases(name: string): void {
  it('--self-test: a retry is replayed, a reused key gets 422, one charge', async () => {
    const run = await runExample(name, ['--self-test']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\(first attempt\)\s+201 \{/);
    expect(run.stdout).toMatch(/\(retry, same key\)\s+201 \(Idempotent-Replayed: true\)/);
    expect(run.stdout).toMatch(/\(same key, 700 EUR\)\s+422 .*idempotency-key-reused/);
    expect(run.stdout).toMatch(/\(no key\)\s+400 .*idempotency-key-missing/);
    expect(run.stdout).toContain('charges for acme: 1\n');
    expect(run.stdout).toContain('self-test passed');
  });

  it('as a server: a POST sent twice with one key charges once', async () => {
    const child = spawnExample(name, [], { PORT: '0' });
    const exit = finished(child);
    try {
      const [, origin] = (await waitForOutput(child, /on (http:\/\/\S+)\n/)) as [string, string];
      const post = () =>
        fetch(`${origin}/charges`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': 'sk_test_globex',
            'idempotency-key': 'charge-1',
          },
          body: JSON.stringify({ amount: 250, currency: 'USD' }),
        });
      const first = await post();
      const second = await post();
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(await second.text()).toBe(await first.text());
      const list = await fetch(`${origin}/charges`, { headers: { 'x-api-key': 'sk_test_globex' } });
      expect(await list.json()).toHaveLength(1);
      const anonymous = await fetch(`${origin}/charges`, { method: 'POST' });
      expect(anonymous.status).toBe(401);
      const forged = await fetch(`${origin}/charges`, { headers: { 'x-api-key': 'globex' } });
      expect(forged.status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await exit).code).toBe(0);
  });
}

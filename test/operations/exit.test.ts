import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** A port on which nothing listens: taken, then freed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('background retry timers in Node', () => {
  it('never keep the process alive: a script with a pending operation exits', async () => {
    const script = new URL('./fixtures/pending-exit.ts', import.meta.url).pathname;
    const base = `http://127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    const { stdout } = await run(process.execPath, [script], {
      env: { ...process.env, BASE: base },
      timeout: 15_000,
    });
    expect(stdout.trim()).toBe('OPERATION_PENDING');
    // The next background round was a minute away: exiting well before proves the timer is unref'd.
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

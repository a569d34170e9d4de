/**
 * The chaos suite's server processes: started on fixed ports so the proxy finds them again, and
 * restarted when they die (a server kill), until the fleet is stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LedgerTarget } from './ledger.ts';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));

export interface FleetOptions extends LedgerTarget {
  /** How many server processes share the store. */
  size: number;
  leaseMs: number;
  /** Which server helper guards the handler: `idempotency()` (web) or `oncely/server/node`. */
  adapter: 'web' | 'node';
  /** False for the control run: the handler without the helper (see ChaosOptions.guard). */
  guard: boolean;
  /** File prefix of the per-process attempt logs (`<prefix>-<n>.log`). */
  attemptsPrefix: string;
}

export interface Fleet {
  readonly ports: readonly number[];
  readonly attemptLogs: readonly string[];
  /** Times a server died and was started again. */
  readonly restarts: number;
  /** True while a server is down or starting. */
  readonly restarting: boolean;
  /** Epoch ms of the last restart completed. */
  readonly lastRestartAt: number;
  /** Set when a server could not be started again (its store is unreachable). */
  readonly failure: Error | undefined;
  stop(): Promise<void>;
}

/** A free loopback port, found by binding port 0. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function launch(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('\n')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`server exited (${code}) at start`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Starts `size` server processes and keeps them up. */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const ports = await Promise.all(Array.from({ length: options.size }, freePort));
  const attemptLogs = ports.map((_, n) => `${options.attemptsPrefix}-${n}.log`);
  const children: (ChildProcess | undefined)[] = [];
  let stopping = false;
  let restarts = 0;
  let down = 0;
  let starting = 0;
  let failure: Error | undefined;
  let lastRestartAt = Date.now();

  const envOf = (n: number): NodeJS.ProcessEnv => ({
    ...process.env,
    CHAOS_STORE: options.store,
    CHAOS_TARGET: options.target,
    CHAOS_NAMESPACE: options.namespace,
    CHAOS_PORT: String(ports[n]),
    CHAOS_LEASE_MS: String(options.leaseMs),
    CHAOS_ADAPTER: options.adapter,
    CHAOS_GUARD: options.guard ? 'on' : 'off',
    CHAOS_ATTEMPTS: attemptLogs[n],
  });

  async function keep(n: number, child: ChildProcess) {
    // A server that finished starting after stop() was called goes at once.
    if (stopping) {
      child.kill('SIGTERM');
      return;
    }
    children[n] = child;
    child.once('exit', () => {
      children[n] = undefined;
      if (stopping) return;
      down++;
      void restart(n);
    });
  }

  async function restart(n: number) {
    starting++;
    try {
      await relaunch(n);
    } finally {
      starting--;
    }
  }

  async function relaunch(n: number) {
    for (let tries = 1; ; tries++) {
      try {
        await keep(n, await launch(envOf(n)));
        restarts++;
        down--;
        lastRestartAt = Date.now();
        return;
      } catch (error) {
        if (stopping) return;
        // Its store is gone (a service stopped under the run): the run fails rather than spin.
        if (tries >= 50) {
          failure ??= new Error(`server ${n} cannot restart`, { cause: error });
          return;
        }
        // The port may still be held for a moment by the dead process's sockets.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  await Promise.all(ports.map(async (_, n) => keep(n, await launch(envOf(n)))));
  return {
    ports,
    attemptLogs,
    get restarts() {
      return restarts;
    },
    get restarting() {
      return down > 0;
    },
    get lastRestartAt() {
      return lastRestartAt;
    },
    get failure() {
      return failure;
    },
    async stop() {
      stopping = true;
      while (starting > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await Promise.all(
        children.map(
          (child) =>
            child &&
            new Promise<void>((resolve) => {
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

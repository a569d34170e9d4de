import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';

/** A crash-test client process, and the messages it sent. */
export interface Child {
  process: ChildProcess;
  messages: unknown[];
  /** Resolves with the first message `match` accepts. */
  next(match: (message: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited, with its exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  kill(): Promise<void>;
}

const source = new URL('./child.ts', import.meta.url).pathname;

/**
 * The script the children run: `child.ts` bundled into one file in `dir`. Node 24 runs the `.ts`
 * as it is (set ONCELY_CRASH_TS=1 to do so), but resolving and stripping some forty modules costs
 * about a second per process on a loaded machine, against 0.2 s for the bundle; the random rounds
 * start two processes each.
 */
export async function childScript(dir: string): Promise<string> {
  if (process.env.ONCELY_CRASH_TS) return source;
  const outfile = join(dir, 'child.mjs');
  await build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

/** Starts the crash-test child `script` under this Node, with an IPC channel. */
export function spawnChild(script: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const messages: unknown[] = [];
  const waiters: Array<{
    match: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }> = [];
  let errors = '';
  child.stderr?.on('data', (chunk) => {
    errors += chunk;
  });
  child.on('message', (message) => {
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message as Record<string, unknown>)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message as Record<string, unknown>);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    messages,
    next(match) {
      const seen = messages.find((m) => match(m as Record<string, unknown>));
      if (seen) return Promise.resolve(seen as Record<string, unknown>);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        exited.then(() =>
          setTimeout(() => reject(new Error(`child exited first; stderr: ${errors}`)), 50),
        );
      });
    },
    exited,
    stderr: () => errors,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

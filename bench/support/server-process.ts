import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerConfig } from './server-config.ts';

const APP = fileURLToPath(new URL('./server-app.ts', import.meta.url));

/** A benchmark server in its own process; `stop()` ends it (and writes its CPU profile, if any). */
export interface ServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts bench/support/server-app.ts with `config` in a child process. With `profileDir`, the
 * child runs under `--cpu-prof` and writes a `.cpuprofile` there when it stops.
 */
export async function startServer(
  config: ServerConfig,
  profileDir?: string,
): Promise<ServerProcess> {
  const execArgv = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const child = fork(APP, [JSON.stringify(config)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited with code ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

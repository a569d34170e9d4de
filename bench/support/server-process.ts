import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerConfig } from './server-config.ts';
import type { ControlAnswer, ControlMessage } from './server-control.ts';

const APP = fileURLToPath(new URL('./server-app.ts', import.meta.url));

/** A benchmark server in its own process; `stop()` ends it. */
export interface ServerProcess {
  readonly url: string;
  /** CPU time (user + system) the server process has used so far, in microseconds. */
  cpu(): Promise<number>;
  /**
   * Profiles the server's CPU while `work` runs (not its start-up), and writes the V8
   * `.cpuprofile` to `file`; read it with bench/support/server-profile.ts.
   */
  profile<T>(file: string, work: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/** Starts bench/support/server-app.ts with `config` in a child process of its own. */
export async function startServer(config: ServerConfig): Promise<ServerProcess> {
  const child = fork(APP, [JSON.stringify(config)], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited with code ${code}`)));
  });
  const ask = (message: ControlMessage) =>
    new Promise<number>((resolve) => {
      child.once('message', (answer) => resolve((answer as ControlAnswer).cpuMicros));
      child.send(message);
    });
  return {
    url: `http://127.0.0.1:${port}`,
    cpu: () => ask({ control: 'cpu' }),
    async profile(file, work) {
      await ask({ control: 'profile-start' });
      try {
        return await work();
      } finally {
        await ask({ control: 'profile-stop', file });
      }
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

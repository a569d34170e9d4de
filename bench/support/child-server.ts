import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A server process started for a benchmark; `stop()` ends it. */
export interface ChildServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `module` (a server that sends `{ port }` over IPC once listening) in a child process. */
export async function startChildServer(
  module: string = fileURLToPath(new URL('./echo-server.ts', import.meta.url)),
): Promise<ChildServer> {
  const child = fork(module, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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

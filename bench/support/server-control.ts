/**
 * What a benchmark server answers its parent over IPC besides its port: the CPU time it has used
 * (so a case can be judged by CPU per request, which other work on the machine moves far less
 * than requests per second), and CPU profiling of the load runs only, not the start-up.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

/** What the parent asks. */
export type ControlMessage =
  | { control: 'cpu' }
  | { control: 'profile-start' }
  | { control: 'profile-stop'; file: string };

/** The child's answer: its CPU time so far (user + system), in microseconds. */
export interface ControlAnswer {
  cpuMicros: number;
}

/** Answers the parent's control messages, one at a time. */
export function answerControlMessages(): void {
  let session: Session | undefined;
  process.on('message', async (message: ControlMessage) => {
    if (message.control === 'profile-start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    } else if (message.control === 'profile-stop' && session !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(message.file, JSON.stringify(profile));
      session.disconnect();
      session = undefined;
    }
    const { user, system } = process.cpuUsage();
    process.send?.({ cpuMicros: user + system } satisfies ControlAnswer);
  });
}

/**
 * CPU profiling inside a benchmark server, on its parent's request, so a profile covers the load
 * runs and not the process's start-up (module loading dominates a short run otherwise).
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

/** What the parent sends; the child answers `{ profiled: true }` once done. */
export type ProfileMessage = { profile: 'start' } | { profile: 'stop'; file: string };

/** Answers profile messages from the parent process. */
export function answerProfileMessages(): void {
  let session: Session | undefined;
  process.on('message', async (message: ProfileMessage) => {
    if (message.profile === 'start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    } else if (session !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(message.file, JSON.stringify(profile));
      session.disconnect();
      session = undefined;
    }
    process.send?.({ profiled: true });
  });
}

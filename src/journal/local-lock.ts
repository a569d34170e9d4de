import type { JournalLock, LockOptions } from './journal.ts';

/**
 * An exclusive lock inside one JavaScript realm: enough for the memory journal, and for the file
 * journal once its process owns the file through the lock file.
 */
export function localLock(): (options?: LockOptions) => Promise<JournalLock | undefined> {
  let held = false;
  const waiters: Array<() => void> = [];

  return async (options) => {
    const signal = options?.signal;
    signal?.throwIfAborted();
    if (held) {
      if (!options?.wait) return undefined;
      // A release hands the lock to the first waiter: `held` stays true in between.
      await new Promise<void>((resolve, reject) => {
        const grant = (): void => {
          signal?.removeEventListener('abort', abort);
          resolve();
        };
        // Only a waiter not yet granted can abort (a grant removes this listener).
        const abort = (): void => {
          waiters.splice(waiters.indexOf(grant), 1);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', abort, { once: true });
        waiters.push(grant);
      });
    }
    held = true;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const next = waiters.shift();
        if (next) next();
        else held = false;
      },
    };
  };
}

import type { JournalLock, LockOptions } from './journal.ts';

/**
 * An exclusive lock inside one JavaScript realm: enough for the memory journal, and for the file
 * journal once its process owns the file through the lock file.
 */
export function localLock(): (options?: LockOptions) => Promise<JournalLock | undefined> {
  let held = false;
  const waiters: Array<() => void> = [];

  const make = (): JournalLock => {
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      const next = waiters.shift();
      if (next) next();
      else held = false;
    };
    return { release };
  };

  return (options) => {
    options?.signal?.throwIfAborted();
    if (!held) {
      held = true;
      return Promise.resolve(make());
    }
    if (!options?.wait) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        options.signal?.removeEventListener('abort', abort);
        resolve(make());
      };
      const abort = (): void => {
        const index = waiters.indexOf(grant);
        if (index !== -1) waiters.splice(index, 1);
        reject(options.signal?.reason);
      };
      options.signal?.addEventListener('abort', abort, { once: true });
      waiters.push(grant);
    });
  };
}

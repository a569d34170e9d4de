/**
 * A lock per operation, across the tabs of one browser profile (Web Locks). The journal's own lock
 * keeps two `resume()` passes apart; this one keeps a resume in one tab from sending an operation
 * that another live tab is sending right now. Where there are no Web Locks (Node, old browsers) it
 * is a no-op: one process owns a file journal, and a memory journal belongs to one client.
 */
interface Locks {
  request<T>(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
}

const SKIPPED = Symbol('skipped');

/**
 * Runs `task` holding the lock of operation `id`. With `ifAvailable`, resolves `undefined`
 * without running it when another tab holds that lock; without, it waits for the lock and always
 * runs `task`.
 */
export function withOperationLock<T>(
  id: string,
  ifAvailable: false,
  task: () => Promise<T>,
): Promise<T>;
export function withOperationLock<T>(
  id: string,
  ifAvailable: boolean,
  task: () => Promise<T>,
): Promise<T | undefined>;
export async function withOperationLock<T>(
  id: string,
  ifAvailable: boolean,
  task: () => Promise<T>,
): Promise<T | undefined> {
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  if (locks === undefined) return task();
  let granted = false;
  let result: T | typeof SKIPPED;
  try {
    result = await locks.request<T | typeof SKIPPED>(
      `oncely:operation:${id}`,
      { ifAvailable },
      (lock) => {
        granted = true;
        return lock === null ? Promise.resolve(SKIPPED) : task();
      },
    );
  } catch (error) {
    if (granted) throw error;
    // Web Locks refused here (SecurityError: an opaque origin, storage blocked): go on without, as
    // in Node, so that the journal reports its own failure (JournalError) before anything is sent.
    return task();
  }
  return result === SKIPPED ? undefined : result;
}

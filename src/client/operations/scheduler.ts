import { MAX_TIMER_MS } from '../../timer-limit.ts';

interface Slot {
  timer: ReturnType<typeof setTimeout>;
  at: number;
  /** Set by the server (`Retry-After`): coming back online does not bring it forward. */
  serverTimed: boolean;
}

/** Timers of background retries, one per pending operation. */
export interface Scheduler {
  schedule(id: string, at: number, serverTimed: boolean): void;
  cancel(id: string): void;
  has(id: string): boolean;
  /** Runs now every operation waiting on backoff alone (the browser came back online). */
  wake(): void;
  close(): void;
}

/**
 * Background timers that never keep a Node process alive (`unref`), so a script with a pending
 * operation still exits; the journal keeps the operation for the next `resume()`.
 */
export function createScheduler(run: (id: string) => void): Scheduler {
  const slots = new Map<string, Slot>();
  let closed = false;

  const arm = (id: string, at: number, serverTimed: boolean): void => {
    const timer = setTimeout(
      () => {
        // A wait beyond setTimeout's range is made of several timers.
        if (at - Date.now() > MAX_TIMER_MS) return arm(id, at, serverTimed);
        slots.delete(id);
        run(id);
      },
      Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS),
    );
    (timer as { unref?: () => void }).unref?.();
    slots.set(id, { timer, at, serverTimed });
  };
  const cancel = (id: string): void => {
    clearTimeout(slots.get(id)?.timer);
    slots.delete(id);
  };

  return {
    schedule(id, at, serverTimed) {
      if (closed) return;
      cancel(id);
      arm(id, at, serverTimed);
    },
    cancel,
    has: (id) => slots.has(id),
    wake() {
      for (const [id, slot] of [...slots]) {
        if (slot.serverTimed && slot.at > Date.now()) continue;
        cancel(id);
        run(id);
      }
    },
    close() {
      closed = true;
      for (const id of [...slots.keys()]) cancel(id);
    },
  };
}

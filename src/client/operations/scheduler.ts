// setTimeout's delay is a signed 32-bit number of ms; a longer one fires at once.
const MAX_DELAY = 2 ** 31 - 1;

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

  const fire = (id: string): void => {
    const slot = slots.get(id);
    // A wait beyond setTimeout's range is made of several timers.
    if (slot && slot.at - Date.now() > MAX_DELAY) {
      arm(id, slot.at, slot.serverTimed);
      return;
    }
    slots.delete(id);
    run(id);
  };
  const arm = (id: string, at: number, serverTimed: boolean): void => {
    const delay = Math.min(Math.max(0, at - Date.now()), MAX_DELAY);
    const timer = setTimeout(fire, delay, id);
    (timer as { unref?: () => void }).unref?.();
    slots.set(id, { timer, at, serverTimed });
  };

  return {
    schedule(id, at, serverTimed) {
      if (closed) return;
      const previous = slots.get(id);
      if (previous) clearTimeout(previous.timer);
      arm(id, at, serverTimed);
    },
    cancel(id) {
      const slot = slots.get(id);
      if (slot) clearTimeout(slot.timer);
      slots.delete(id);
    },
    has: (id) => slots.has(id),
    wake() {
      for (const [id, slot] of [...slots]) {
        if (slot.serverTimed && slot.at > Date.now()) continue;
        clearTimeout(slot.timer);
        slots.delete(id);
        run(id);
      }
    },
    close() {
      closed = true;
      for (const slot of slots.values()) clearTimeout(slot.timer);
      slots.clear();
    },
  };
}

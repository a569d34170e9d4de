import { createClient } from '../../src/client/create-client.ts';
import type { ClientOptions } from '../../src/client/options.ts';
import { ENTRY_STATE, type Journal, type JournalEntry } from '../../src/journal/journal.ts';
import { serializeRequest } from '../../src/journal/serialize.ts';
import { BASE } from '../client/support/msw.ts';

export { BASE };

/** A client with test-sized waits: in-session backoff of a few ms, background rounds of `base`. */
export function opsClient(options: ClientOptions = {}) {
  return createClient({
    baseUrl: BASE,
    retry: { backoffBase: 1, backoffCap: 4 },
    backgroundRetry: { base: 20, cap: 40 },
    ...options,
  });
}

/** A record as a process that died after journaling it would have left it. */
export function orphan(overrides: Partial<JournalEntry> = {}): JournalEntry {
  const now = Date.now();
  return {
    version: 1,
    id: `op-${Math.random().toString(36).slice(2)}`,
    name: 'charge',
    key: `key-${Math.random().toString(36).slice(2)}`,
    request: serializeRequest({ url: `${BASE}/charges`, method: 'POST', json: { amount: 5 } }),
    input: { amount: 5 },
    attempts: 1,
    state: ENTRY_STATE.running,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

/** Resolves when `check` holds, polling every few ms; rejects after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A journal whose calls are logged, and whose writes can be made to fail. */
export function spyJournal(inner: Journal) {
  const calls: string[] = [];
  const failing = { put: false };
  const journal: Journal = {
    ...inner,
    async put(entry) {
      calls.push('put');
      if (failing.put) throw new Error('disk full');
      return inner.put(entry);
    },
    async update(id, patch) {
      calls.push(`update:${patch.state ?? ''}`);
      return inner.update(id, patch);
    },
    async delete(id) {
      calls.push('delete');
      return inner.delete(id);
    },
  };
  return { journal, calls, failing };
}

/** An `online` event source on globalThis, as a browser has; `restore` gets its undo. */
export function onlineEvents(restore: Array<() => void>): EventTarget {
  const target = new EventTarget();
  const global = globalThis as unknown as Record<string, unknown>;
  global.addEventListener = target.addEventListener.bind(target);
  global.removeEventListener = target.removeEventListener.bind(target);
  restore.push(() => {
    delete global.addEventListener;
    delete global.removeEventListener;
  });
  return target;
}

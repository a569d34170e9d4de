import { isOncelyError } from '../../errors/oncely-error.ts';
import {
  isUnsettled,
  JOURNAL_FORMAT_VERSION,
  type Journal,
  type JournalAction,
  type JournalEntry,
  type JournalPatch,
} from '../../journal/index.ts';
import { JournalError } from '../../journal/journal-error.ts';
import { memoryJournal } from '../../journal/memory.ts';
import {
  deserializeRequest,
  jsonBody,
  type RestoredRequest,
  serializeRequest,
} from '../../journal/serialize.ts';
import { randomV4Key } from '../../key/random-v4.ts';
import { assertValidKey } from '../../key/validate.ts';
import { assertFetchable, resolveUrl } from '../prepare-request.ts';
import { backgroundDelay } from './background-delay.ts';
import type { SendContext } from './context.ts';
import type { Operation, OperationDefinition, OperationInfo, RunOptions } from './definition.ts';
import { ClientClosedError } from './errors/client-closed-error.ts';
import { DuplicateOperationError } from './errors/duplicate-operation-error.ts';
import { OperationPendingError } from './errors/operation-pending-error.ts';
import { withOperationLock } from './operation-lock.ts';
import type { OperationsOptions } from './options.ts';
import type { ResumedOperation, ResumeSummary } from './resume-summary.ts';
import { createScheduler } from './scheduler.ts';
import { type Settlement, sendOperation, unbuildable } from './send-operation.ts';

const DEFAULT_LIFETIME_MS = 23 * 60 * 60 * 1000;

/** Options of `client.resume()`. */
export interface ResumeOptions {
  /**
   * Wait for the journal's lock when another tab or process holds it, instead of returning at
   * once with `locked: true`.
   * @default false
   */
  wait?: boolean;
  /** Gives up waiting for the lock: `resume()` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The durable-operations part of a client (issue 3; docs/operations.md). */
export interface Operations {
  /** The journal operations are written to (the `journal` option, or a memory journal). */
  readonly journal: Journal;
  /**
   * Defines a kind of operation under `name`, once. Records in the journal find their definition
   * by this name on resume.
   * @throws {DuplicateOperationError} when `name` is already defined
   * @example
   * ```ts
   * const pay = client.operation('pay-order', {
   *   request: (order: Order) => ({ url: '/payments', method: 'POST', json: order }),
   *   key: (order) => keyFrom('pay', order.id),
   * });
   * await pay.run(order);
   * ```
   */
  operation<Input>(name: string, definition: OperationDefinition<Input>): Operation<Input>;
  /**
   * Runs again, with their original keys, the operations a previous session left unsettled,
   * holding the journal's lock. A second call while a pass runs returns that pass.
   * @example
   * ```ts
   * const { succeeded, unknown, locked } = await client.resume();
   * ```
   */
  resume(options?: ResumeOptions): Promise<ResumeSummary>;
  /**
   * Stops background retries and the `online` listener, and waits for sends under way. The
   * journal stays open: close it yourself when you own it.
   */
  close(): Promise<void>;
}

/** What lives only in this session for a pending operation: what the journal must not hold. */
interface Live {
  /** The request's headers as described, secrets included. */
  headers: Headers;
  input: unknown;
}

type AnyDefinition = OperationDefinition<unknown>;

/**
 * The operation lifecycle of issue 3: journal first (durable before the first attempt), then
 * attempts with the record's fixed key through the client's attempt loop, then removal once it
 * settles. A retryable failure leaves it pending, retried in the background and by `resume()`.
 */
export function createOperations(context: SendContext, options: OperationsOptions): Operations {
  const journal = options.journal ?? memoryJournal();
  const lifetime = options.operationLifetimeMs ?? DEFAULT_LIFETIME_MS;
  const keepSettledMs = options.keepSettledMs ?? 0;
  const background =
    options.backgroundRetry === false ? undefined : (options.backgroundRetry ?? {});
  const secretHeaders = options.secretHeaders ?? [];
  const definitions = new Map<string, AnyDefinition>();
  const live = new Map<string, Live>();
  const rounds = new Map<string, number>();
  // Operations this client is sending now: no second run of one id starts meanwhile.
  const active = new Map<string, Promise<unknown>>();
  const scheduler = createScheduler((id) => void retryInBackground(id));
  let resuming: Promise<ResumeSummary> | undefined;
  let autoResume: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const wait = (round: number): number => backgroundDelay(round, background ?? {});
  const onOnline = (): void => scheduler.wake();
  // Absent outside browsers and workers (Node has no `online` event).
  const events = globalThis as {
    addEventListener?: typeof addEventListener;
    removeEventListener?: typeof removeEventListener;
  };
  if (background) events.addEventListener?.('online', onOnline);

  function operation<Input>(name: string, definition: OperationDefinition<Input>) {
    if (definitions.has(name)) throw new DuplicateOperationError(name);
    definitions.set(name, definition as AnyDefinition);
    return {
      name,
      run: (input: Input, runOptions?: RunOptions) =>
        run(name, definition as AnyDefinition, input, runOptions ?? {}),
    };
  }

  async function run(
    name: string,
    definition: AnyDefinition,
    input: unknown,
    runOptions: RunOptions,
  ): Promise<Response> {
    if (closed) throw new ClientClosedError();
    runOptions.signal?.throwIfAborted();
    const description = await definition.request(input);
    const key = definition.key
      ? assertValidKey(await definition.key(input))
      : context.generateKey();
    // What fetch would refuse (a URL it cannot resolve, a bad method, a GET with a body) throws
    // its TypeError now, before anything is written or sent.
    const hasBody = description.json !== undefined || description.body != null;
    const method = (description.method ?? (hasBody ? 'POST' : 'GET')).toUpperCase();
    assertFetchable(resolveUrl(description.url, context.baseUrl), method, hasBody);
    if ((runOptions.durable ?? definition.durable) === false) {
      // Sent as described: any body, secrets included.
      const request = { ...description, url: String(description.url), method };
      const settlement = await sendOperation(context, request, key, runOptions.signal);
      const info = { id: '', name, key, attempts: settlement.attempts, detached: false };
      return deliver(definition, input, settlement, info);
    }
    // Throws NotPersistableError for a stream body, before anything is written or sent.
    const request = serializeRequest(description, { secretHeaders });
    const now = Date.now();
    const entry: JournalEntry = {
      version: JOURNAL_FORMAT_VERSION,
      // Random, not time-ordered: journals list by createdAt, and a v7 would cost the bundle uuid.
      id: randomV4Key(),
      name,
      key,
      request,
      attempts: 0,
      // Its first attempt follows this write at once: a crash from here on may leave it sent.
      state: 'running',
      createdAt: now,
      updatedAt: now,
      expiresAt: now + lifetime,
    };
    const kept = jsonCopy(input);
    if (kept !== undefined) entry.input = kept;
    // Tracked before the write, so that a resume() listing the journal meanwhile leaves it alone,
    // and locked before it (nobody else knows this id yet: the lock is free), so that another
    // tab's resume() cannot send it between the write and the lock.
    const settlement = await track(entry.id, () =>
      withOperationLock(entry.id, false, async () => {
        // The first attempt waits for this write to be durable (issue 3); if it fails, nothing is sent.
        await write('put', () => journal.put(entry));
        live.set(entry.id, { headers: new Headers(description.headers), input });
        try {
          return await send(entry, runOptions.signal);
        } catch (reason) {
          // Cancelled by the caller: the operation ends here (see RunOptions.signal).
          await forget(entry);
          throw reason;
        }
      }),
    );
    return conclude(entry, definition, input, settlement, false);
  }

  /** Records the outcome in the journal and tells the definition; returns or throws for a caller. */
  async function conclude(
    entry: JournalEntry,
    definition: AnyDefinition,
    input: unknown,
    settlement: Settlement,
    detached: boolean,
  ): Promise<Response> {
    const attempts = entry.attempts + settlement.attempts;
    const info: OperationInfo = {
      id: entry.id,
      name: entry.name,
      key: entry.key,
      attempts,
      detached,
    };
    if (settlement.kind === 'pending') {
      const round = (rounds.get(entry.id) ?? 0) + 1;
      rounds.set(entry.id, round);
      const retryAt = settlement.retryAt ?? (background ? Date.now() + wait(round) : undefined);
      await quietly('update', () =>
        journal.update(entry.id, {
          state: 'pending',
          attempts,
          nextAttemptAt: retryAt,
          lastError: errorInfo(settlement.error),
        }),
      );
      if (background && retryAt !== undefined && !closed) {
        later(entry, retryAt, settlement.retryAt !== undefined);
      }
      throw new OperationPendingError(
        entry.id,
        entry.name,
        entry.key,
        attempts,
        background ? retryAt : undefined,
        settlement.error,
      );
    }
    const succeeded = settlement.kind === 'succeeded';
    await settle(entry, succeeded ? 'succeeded' : 'failed', {
      attempts,
      lastError: succeeded ? undefined : errorInfo(settlement.error),
    });
    return deliver(definition, input, settlement, info);
  }

  /**
   * Tells the definition how a call ended, and returns its response or throws its error. A
   * pending one is not told: it is not over. The caller's copy of the response is unread; a
   * detached run (background, resume) has no caller, so the hook gets the response itself.
   */
  async function deliver(
    definition: AnyDefinition,
    input: unknown,
    settlement: Settlement,
    info: OperationInfo,
  ): Promise<Response> {
    if (settlement.kind === 'succeeded') {
      const response = settlement.response;
      await callHook(() =>
        definition.onSuccess?.(info.detached ? response : response.clone(), input, info),
      );
      return response;
    }
    if (settlement.kind === 'failed')
      await callHook(() => definition.onError?.(settlement.error, input, info));
    throw settlement.error;
  }

  /**
   * Schedules a background round at `at`, or at the expiry if sooner, so that onExpired is told on
   * time. `serverTimed`: a time the server named, which coming back online does not bring forward.
   */
  function later(entry: JournalEntry, at: number, serverTimed: boolean): void {
    scheduler.schedule(
      entry.id,
      Math.min(at, entry.expiresAt ?? entry.createdAt + lifetime),
      serverTimed,
    );
  }

  /** Settled: removed from the journal, or kept `keepSettledMs` when the user asked. */
  async function settle(entry: JournalEntry, state: 'succeeded' | 'failed', patch: JournalPatch) {
    live.delete(entry.id);
    rounds.delete(entry.id);
    scheduler.cancel(entry.id);
    // If this write is lost the record stays unsettled and a resume sends it again with the same
    // key: the server replays its stored answer, so the effect still happens once.
    if (keepSettledMs > 0) {
      await quietly('update', () =>
        journal.update(entry.id, { ...patch, state, nextAttemptAt: undefined }),
      );
    } else {
      await quietly('delete', () => journal.delete(entry.id));
    }
  }

  async function forget(entry: JournalEntry): Promise<void> {
    live.delete(entry.id);
    rounds.delete(entry.id);
    scheduler.cancel(entry.id);
    await quietly('delete', () => journal.delete(entry.id));
  }

  /**
   * Sends a journaled operation again, with its journaled request and key, holding its lock, and
   * concludes it with no caller waiting (in the background or by a resume).
   * @returns undefined when another tab is sending it, or it settled since `entry` was read; else
   * its settlement, and the error concluding it threw when it did not succeed.
   */
  async function resend(
    entry: JournalEntry,
    definition: AnyDefinition,
  ): Promise<{ settlement: Settlement; error?: Error } | undefined> {
    const sent = await track(entry.id, () =>
      withOperationLock(entry.id, true, async () => {
        // Nothing is sent once close() was called (a background round may have been reading).
        if (closed) return undefined;
        // Read again under the lock: another tab may have settled it meanwhile.
        const current = await quietly('read', () => journal.get(entry.id));
        if (current === undefined || !isUnsettled(current.state)) return undefined;
        return { entry: current, settlement: await send(current, undefined) };
      }),
    );
    if (sent === undefined) return undefined;
    const { settlement } = sent;
    const input = live.get(entry.id)?.input ?? sent.entry.input;
    try {
      await conclude(sent.entry, definition, input, settlement, true);
      return { settlement };
    } catch (error) {
      return { settlement, error: error as Error };
    }
  }

  /** Sends a journaled operation: its journaled request and key, and this session's secrets. */
  function send(entry: JournalEntry, signal: AbortSignal | undefined): Promise<Settlement> {
    let request: RestoredRequest;
    try {
      request = deserializeRequest(entry.request);
    } catch (error) {
      return Promise.resolve(unbuildable(error));
    }
    // The headers the journal must not hold are sent from memory, by the session that has them.
    const own = live.get(entry.id)?.headers;
    if (own) for (const [name, value] of own) request.headers.set(name, value);
    return sendOperation(context, request, entry.key, signal);
  }

  function track<T>(id: string, task: () => Promise<T>): Promise<T> {
    const running = task().finally(() => active.delete(id));
    active.set(id, running);
    return running;
  }

  async function isExpired(entry: JournalEntry): Promise<boolean> {
    const expiresAt = entry.expiresAt ?? entry.createdAt + lifetime;
    if (Date.now() < expiresAt) return false;
    live.delete(entry.id);
    rounds.delete(entry.id);
    scheduler.cancel(entry.id);
    const written = await quietly('update', () =>
      journal.update(entry.id, { state: 'expired', nextAttemptAt: undefined }),
    );
    await callHook(() => options.onExpired?.(written ?? { ...entry, state: 'expired' }));
    return true;
  }

  async function retryInBackground(id: string): Promise<void> {
    if (closed || active.has(id)) return;
    const entry = await quietly('read', () => journal.get(id));
    if (closed || entry === undefined || !isUnsettled(entry.state)) return;
    const definition = definitions.get(entry.name);
    if (definition === undefined || (await isExpired(entry))) return;
    // Another tab is sending it: look again later, by when that tab has most likely settled it.
    if ((await resend(entry, definition)) === undefined && !closed) {
      scheduler.schedule(id, Date.now() + wait(rounds.get(id) ?? 1), false);
    }
  }

  async function resumeNow(resumeOptions: ResumeOptions): Promise<ResumeSummary> {
    const summary = {
      locked: false,
      resumed: 0,
      succeeded: [] as ResumedOperation[],
      failed: [] as ResumedOperation[],
      pending: [] as ResumedOperation[],
      expired: [] as ResumedOperation[],
      unknown: [] as JournalEntry[],
    };
    // ResumeOptions are the journal's LockOptions: wait (default false) and signal.
    const lock = await write('lock', () => journal.lock(resumeOptions)).catch((error) => {
      // Given up by the caller's signal: its reason, as for an aborted run.
      resumeOptions.signal?.throwIfAborted();
      throw error;
    });
    if (lock === undefined) return { ...summary, locked: true };
    try {
      const entries = await write('read', () => journal.list());
      for (const entry of entries) {
        if (closed) break;
        // Written by a newer release (another tab already updated): its fields may mean something
        // else here. Left alone, neither sent nor swept; that release resumes it.
        if (entry.version > JOURNAL_FORMAT_VERSION) continue;
        const named = { id: entry.id, name: entry.name, key: entry.key };
        if (!isUnsettled(entry.state)) {
          await sweep(entry);
          continue;
        }
        // This session's own operations are already in hand (running or scheduled).
        if (active.has(entry.id) || scheduler.has(entry.id)) continue;
        if (await isExpired(entry)) {
          summary.expired.push(named);
          continue;
        }
        const definition = definitions.get(entry.name);
        if (definition === undefined) {
          summary.unknown.push(entry);
          await callHook(() => options.onUnknownOperation?.(entry));
          continue;
        }
        if (entry.nextAttemptAt !== undefined && entry.nextAttemptAt > Date.now() && background) {
          // Only a long Retry-After sets a time `online` must not bring forward (see conclude).
          later(entry, entry.nextAttemptAt, entry.lastError?.code === 'RETRY_AFTER_TOO_LONG');
          summary.pending.push(named);
          continue;
        }
        const resent = await resend(entry, definition);
        // Being sent by another live tab, or settled meanwhile: not this pass's to report.
        if (resent === undefined) continue;
        summary.resumed++;
        const { settlement, error } = resent;
        if (error === undefined) summary.succeeded.push(named);
        else if (settlement.kind === 'pending') summary.pending.push({ ...named, error });
        else summary.failed.push({ ...named, error });
      }
    } finally {
      await lock.release();
    }
    return summary;
  }

  /** Drops a settled record kept past `keepSettledMs`. Expired ones stay for the application. */
  async function sweep(entry: JournalEntry): Promise<void> {
    if (entry.state === 'expired') return;
    if (entry.updatedAt + keepSettledMs > Date.now()) return;
    await quietly('delete', () => journal.delete(entry.id));
  }

  function resume(resumeOptions: ResumeOptions = {}): Promise<ResumeSummary> {
    if (closed) return Promise.reject(new ClientClosedError());
    clearTimeout(autoResume);
    autoResume = undefined;
    resuming ??= resumeNow(resumeOptions).finally(() => {
      resuming = undefined;
    });
    return resuming;
  }

  async function close(): Promise<void> {
    closed = true;
    clearTimeout(autoResume);
    scheduler.close();
    events.removeEventListener?.('online', onOnline);
    await Promise.allSettled([...active.values()]);
  }

  // `resume: true` starts the pass on the next task, once the definitions registered right after
  // createClient() are known; a `client.resume()` before then is that pass. A failure is reported.
  if (options.resume) autoResume = setTimeout(() => void resume().catch(report), 0);

  return { journal, operation, resume, close };
}

/** A journal call whose failure must stop the operation: any error becomes a `JournalError`. */
async function write<T>(action: JournalAction, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isOncelyError(error)) throw error;
    throw new JournalError(action, `The journal failed to ${action}`, { cause: error });
  }
}

/**
 * A journal write after the request was sent: its failure must not hide the outcome from the
 * caller. The record then stays as it was, and a resume settles it with the same key.
 */
async function quietly<T>(action: JournalAction, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write(action, call);
  } catch (error) {
    report(error);
    return undefined;
  }
}

/** Runs a user hook; its error is reported, never allowed to change the operation's outcome. */
async function callHook(hook: () => unknown): Promise<void> {
  try {
    await hook();
  } catch (error) {
    report(error);
  }
}

/** Reports an error nobody awaits: as an uncaught one where the platform can (browsers, Deno). */
function report(error: unknown): void {
  const global = globalThis as { reportError?: (error: unknown) => void };
  (global.reportError ?? console.error)(error);
}

function errorInfo(error: Error): JournalEntry['lastError'] {
  const status = (error as { status?: unknown }).status;
  const code = isOncelyError(error) ? error.code : error.name;
  const info: NonNullable<JournalEntry['lastError']> = { code, message: error.message };
  if (typeof status === 'number') info.status = status;
  return info;
}

/** The input as the journal can keep it (a JSON round trip), or undefined when it cannot. */
function jsonCopy(input: unknown): unknown {
  try {
    return jsonBody(input).value;
  } catch {
    return undefined;
  }
}

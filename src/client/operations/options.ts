import type { Journal, JournalEntry } from '../../journal/journal.ts';

/** Headers for every request, or a function that gives them at send time. */
export type HeadersSource = HeadersInit | (() => HeadersInit | Promise<HeadersInit>);

/** Timing of background retries of pending operations. */
export interface BackgroundRetryOptions {
  /**
   * Base of the exponential backoff between background rounds, in ms: round n waits between half
   * and all of `min(cap, base × 2^(n−1))`.
   * @default 1_000
   */
  base?: number;
  /**
   * Longest wait between background rounds, in ms (issue 3: cap 5 min).
   * @default 300_000
   */
  cap?: number;
}

/** The client's options for durable operations (issue 3). */
export interface OperationsOptions {
  /**
   * Where operations are written before their first attempt. The memory journal survives nothing;
   * use `fileJournal(path)` from `oncely/node` or `indexedDbJournal()` from `oncely/browser` to
   * resume after a crash or reload.
   * @default memoryJournal()
   * @example
   * ```ts
   * import { indexedDbJournal } from 'oncely/browser';
   *
   * const client = createClient({ journal: indexedDbJournal(), resume: true });
   * ```
   */
  journal?: Journal;
  /**
   * Calls `client.resume()` when the client is created. `await client.resume()` then returns that
   * same pass's summary.
   * @default false
   */
  resume?: boolean;
  /**
   * Header names never written to the journal, on top of `Authorization`, `Cookie` and
   * `Proxy-Authorization`. Give them back at send time through `headers` as a function.
   * @default []
   * @example
   * ```ts
   * secretHeaders: ['x-api-key']
   * ```
   */
  secretHeaders?: readonly string[];
  /**
   * How long an unsettled operation may be sent again, in ms from its creation. Past it the server
   * may have forgotten the key and would do the work twice, so it is moved to `expired` instead.
   * @default 82_800_000 (23 h, under the usual 24 h server retention)
   */
  operationLifetimeMs?: number;
  /**
   * How long a settled operation stays in the journal (state `succeeded` or `failed`), in ms. 0
   * removes it at once.
   * @default 0
   */
  keepSettledMs?: number;
  /**
   * Background retries of operations that ran out of in-session attempts, or `false` to leave them
   * for the next `resume()`.
   * @default { base: 1_000, cap: 300_000 }
   */
  backgroundRetry?: BackgroundRetryOptions | false;
  /**
   * An operation outlived `operationLifetimeMs` and will not be sent again. Its record stays in the
   * journal, state `expired`, for the application to decide.
   * @example
   * ```ts
   * onExpired: (entry) => ui.warn(entry.name + ' was not confirmed, key ' + entry.key)
   * ```
   */
  onExpired?: (entry: JournalEntry) => void | Promise<void>;
  /**
   * `resume()` found an operation whose name has no definition (yet). It is kept, never dropped;
   * define it and resume again.
   */
  onUnknownOperation?: (entry: JournalEntry) => void | Promise<void>;
}

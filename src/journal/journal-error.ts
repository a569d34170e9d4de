import { OncelyError } from '../errors/oncely-error.ts';

/** What the journal was doing when it failed. */
export type JournalAction =
  | 'open'
  | 'put'
  | 'update'
  | 'delete'
  | 'read'
  | 'compact'
  | 'lock'
  | 'close';

/**
 * A journal could not be opened, read or written (unwritable path, full IndexedDB quota, failed
 * fsync…). Raised before the request is sent: an operation that could not be journaled is never
 * sent as if it were durable (issue 3, "What is and is not written"). The underlying error is the
 * `cause`.
 *
 * @example
 * ```ts
 * try { await op.run(input) }
 * catch (error) { if (error instanceof JournalError) showOfflineBanner(error.action) }
 * ```
 */
export class JournalError extends OncelyError {
  /** What the journal was doing. */
  declare readonly action: JournalAction;
  /** True when storage is full (IndexedDB `QuotaExceededError`, `ENOSPC`, `EDQUOT`). */
  declare readonly quota: boolean;

  constructor(action: JournalAction, message: string, options?: ErrorOptions) {
    super('JOURNAL_FAILED', message, options);
    this.name = 'JournalError';
    this.action = action;
    this.quota = isQuotaError(options?.cause);
  }
}

function isQuotaError(cause: unknown): boolean {
  if (typeof cause !== 'object' || cause === null) return false;
  const { name, code } = cause as { name?: unknown; code?: unknown };
  return name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT';
}

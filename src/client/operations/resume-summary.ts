import type { JournalEntry } from '../../journal/journal.ts';

/** One operation as a resume summary names it. */
export interface ResumedOperation {
  readonly id: string;
  readonly name: string;
  readonly key: string;
  /** The failure, for `failed` and `pending`. */
  readonly error?: Error;
}

/** What one `resume()` pass did. */
export interface ResumeSummary {
  /**
   * True when another tab or process held the journal's lock: this pass did nothing, the holder
   * resumes the operations.
   */
  readonly locked: boolean;
  /** Operations sent again (succeeded + failed + pending). */
  readonly resumed: number;
  readonly succeeded: readonly ResumedOperation[];
  /** Settled as failed: `onError` got the error. */
  readonly failed: readonly ResumedOperation[];
  /** Still pending after this pass's attempts, or not due yet: retried in the background. */
  readonly pending: readonly ResumedOperation[];
  /** Older than `operationLifetimeMs`: moved to `expired`, not sent. */
  readonly expired: readonly ResumedOperation[];
  /** No definition under their name: kept in the journal, not sent. */
  readonly unknown: readonly JournalEntry[];
}

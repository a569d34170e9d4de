/** oncely: the client. Retry anything, perform it once. */
export * from './client/index.ts';
export * from './client/operations/index.ts';
export {
  ENTRY_STATE,
  type EntryState,
  type Journal,
  type JournalAction,
  type JournalEntry,
  JournalError,
  type JournalErrorInfo,
  type JournalLock,
  // What a Journal's methods take and hold: named for those who write their own journal.
  type JournalPatch,
  type LockOptions,
  type MemoryJournalOptions,
  memoryJournal,
  NotPersistableError,
  type PersistedBody,
  type PersistedRequest,
} from './journal/index.ts';
export * from './key/index.ts';
export { formatKeyHeader, KEY_HEADER, type KeyFormat, REPLAYED_HEADER } from './protocol.ts';
export {
  backoffDelay,
  IDEMPOTENT_METHODS,
  KEYED_METHODS,
  parseRetryAfter,
  RETRY_STATUS_CODES,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryInput,
  type RetryOptions,
} from './retry/index.ts';

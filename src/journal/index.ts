export {
  applyPatch,
  byCreation,
  ENTRY_STATE,
  type EntryState,
  isUnsettled,
  JOURNAL_FORMAT_VERSION,
  type Journal,
  type JournalEntry,
  type JournalErrorInfo,
  type JournalLock,
  type JournalPatch,
  type LockOptions,
  type PersistedBody,
  type PersistedRequest,
  withJournalLock,
} from './journal.ts';
export { type JournalAction, JournalError } from './journal-error.ts';
export { JournalLockedError, type LockHolder } from './journal-locked-error.ts';
export { type MemoryJournalOptions, memoryJournal } from './memory.ts';
export { NotPersistableError } from './not-persistable-error.ts';
export {
  deserializeRequest,
  type RequestDescription,
  type RestoredRequest,
  SECRET_HEADERS,
  type SerializeOptions,
  serializeRequest,
} from './serialize.ts';

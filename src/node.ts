/**
 * `oncely/node`: what only Node needs (package.json fences this entry off browser bundles with
 * `"browser": null`).
 */
export {
  type FileJournal,
  type FileJournalOptions,
  type FileJournalStats,
  fileJournal,
  type RecoveryReport,
} from './journal/file.ts';
export { JournalLockedError, type LockHolder } from './journal/journal-locked-error.ts';

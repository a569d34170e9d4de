/**
 * `oncely/browser`: what only browsers need. Never imports a `node:` module (package.json fences
 * this entry off Node with `"node": null`).
 */
export {
  createStrictStore,
  type IndexedDbJournalOptions,
  indexedDbJournal,
  type StrictStore,
} from './journal/indexeddb.ts';

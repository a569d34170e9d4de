/** `oncely/server`: the idempotency helper for web-standard handlers, its engine, and the memory store. */

export { KEY_HEADER, PROBLEM_BASE_URI, PROBLEM_TYPES, REPLAYED_HEADER } from '../protocol.ts';
export {
  CLAIM_OUTCOMES,
  type Claim,
  type ClaimOutcome,
  type CoreOptions,
  createEngine,
  type Decision,
  type Engine,
  type HandlerResponse,
  type IdempotencyContext,
  type IdempotencyEvent,
  type IdempotencyEventType,
  type IdempotencyOptions,
  type IdempotentHandler,
  InvalidOptionsError,
  idempotency,
  type Logger,
  type PlainResponse,
  PROBLEMS,
  type Problem,
  type ProblemBuilder,
  type ProblemResponse,
  RELEASE_REASONS,
  type ReleaseReason,
  type WaitOptions,
} from './core/index.ts';
export type { BeginInput, BodySource } from './core/types.ts';
export { type MemoryStoreOptions, memoryStore } from './stores/memory.ts';
export {
  type CompletedRecord,
  type InFlightRecord,
  isTransactionalStore,
  RECORD_STATE,
  type Store,
  type StoredResponse,
  StoreError,
  type StoreRecord,
  type TransactionalStore,
  type TransactOutcome,
} from './stores/store.ts';

/** The server core, for adapters: the engine contract and the web-standard wrapper. */
export { captureResponse, NULL_BODY_STATUSES } from './capture-response.ts';
export { CLAIM_OUTCOMES, Claim, type ClaimOutcome } from './claim.ts';
export { createEngine, type Decision, Engine, GLOBAL_SCOPE } from './engine.ts';
export {
  type IdempotencyEvent,
  type IdempotencyEventType,
  RELEASE_REASONS,
  type ReleaseReason,
} from './events.ts';
export { canonicalJson, fingerprint, isJsonContentType } from './fingerprint.ts';
export {
  type IdempotencyOptions,
  type IdempotentHandler,
  idempotency,
  pathOf,
  toResponse,
} from './idempotency.ts';
export { InvalidOptionsError } from './invalid-options-error.ts';
export type { CoreOptions, Logger, WaitOptions } from './options.ts';
export {
  PROBLEMS,
  type Problem,
  type ProblemBuilder,
  type ProblemName,
  type ProblemResponse,
  problemJson,
} from './problem.ts';
export { recordId } from './record-id.ts';
export { DEFAULTS, type Settings } from './settings.ts';
export { type HeaderSource, storedHeaders } from './stored-headers.ts';
export { Transaction, type TransactResult } from './transaction.ts';
export type {
  BeginInput,
  BodySource,
  HandlerResponse,
  IdempotencyContext,
  PlainResponse,
} from './types.ts';

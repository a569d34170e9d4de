export { backoffDelay } from './backoff.ts';
export { RetryBudget, type RetryBudgetOptions } from './budget.ts';
export {
  DEFAULT_POLICY,
  FAILURE_REASONS,
  type FailureReason,
  IDEMPOTENT_METHODS,
  isRetryableStatus,
  KEYED_METHODS,
  mayRetry,
  RETRY_STATUS_CODES,
  type RetryInput,
  type RetryOptions,
  type RetryPolicy,
  resolvePolicy,
} from './policy.ts';
export { parseRetryAfter } from './retry-after.ts';
export { sleep } from './sleep.ts';

import { isOncelyError } from '../../../errors/oncely-error.ts';
import type { OperationPendingError } from './operation-pending-error.ts';

export { ClientClosedError } from './client-closed-error.ts';
export { DuplicateOperationError } from './duplicate-operation-error.ts';
export { OperationPendingError } from './operation-pending-error.ts';

/** Stable codes of the operations layer's own errors. */
export const OPERATION_ERROR_CODES = {
  pending: 'OPERATION_PENDING',
  duplicate: 'DUPLICATE_OPERATION',
  closed: 'CLIENT_CLOSED',
} as const;

/**
 * True for an {@link OperationPendingError}, across realms and bundles (it checks the code).
 * @example
 * ```ts
 * try { await pay.run(order) }
 * catch (error) { if (isOperationPendingError(error)) showQueued(error.retryAt) }
 * ```
 */
export function isOperationPendingError(error: unknown): error is OperationPendingError {
  return isOncelyError(error, OPERATION_ERROR_CODES.pending);
}

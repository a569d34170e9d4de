export { ClientClosedError } from './client-closed-error.ts';
export { DuplicateOperationError } from './duplicate-operation-error.ts';
export { OperationPendingError } from './operation-pending-error.ts';

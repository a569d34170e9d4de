import { OncelyError } from '../../../errors/oncely-error.ts';

/**
 * `client.operation(name, …)` was called twice with one name. Journal records find their
 * definition by name on resume, so a name must mean one definition.
 */
export class DuplicateOperationError extends OncelyError {
  declare readonly operation: string;

  constructor(operation: string) {
    super('DUPLICATE_OPERATION', `Operation '${operation}' is already defined`);
    this.name = 'DuplicateOperationError';
    this.operation = operation;
  }
}

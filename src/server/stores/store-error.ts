import { OncelyError } from '../../errors/oncely-error.ts';

/** A store could not be reached or failed an operation; the request is not run. */
export class StoreError extends OncelyError {
  /** Which primitive failed, such as `claim`. */
  readonly operation: string;

  constructor(operation: string, message: string, options?: ErrorOptions) {
    super('STORE_UNAVAILABLE', `Store ${operation} failed: ${message}`, options);
    this.name = 'StoreError';
    this.operation = operation;
  }
}

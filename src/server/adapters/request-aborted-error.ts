import { OncelyError } from '../../errors/oncely-error.ts';

/**
 * The client went away before its request body was read, or before the guarded handler's response
 * was complete: the key is released and nothing is stored.
 */
export class RequestAbortedError extends OncelyError {
  /** Status for frameworks that read it from errors; the client will not see it. */
  readonly status = 400;
  readonly statusCode = 400;

  constructor(options?: ErrorOptions) {
    super(
      'REQUEST_ABORTED',
      'The client closed the connection before the exchange ended.',
      options,
    );
    this.name = 'RequestAbortedError';
  }
}

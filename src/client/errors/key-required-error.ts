import { HttpError } from './http-error.ts';

/**
 * 400 from a server that demands an idempotency key (problem type `idempotency-key-missing`):
 * the request carried none, usually because the call opted out with `idempotencyKey: false`.
 */
export class KeyRequiredError extends HttpError {
  constructor(response: Response) {
    super(response, undefined, 'KEY_REQUIRED', 'The server requires an Idempotency-Key header');
    this.name = 'KeyRequiredError';
  }
}

import { OncelyError } from '../../errors/oncely-error.ts';

/**
 * The request announced a body, but something before the adapter read it without leaving it
 * parsed (`req.body`): the fingerprint cannot see the body, and a key reused with another body
 * would be replayed. A set-up error, so it carries status 500.
 */
export class BodyUnavailableError extends OncelyError {
  readonly status = 500;
  readonly statusCode = 500;

  constructor() {
    super(
      'BODY_UNAVAILABLE',
      'The request body was read before the idempotency middleware and not left in req.body: mount the middleware before that reader, or after a body parser.',
    );
    this.name = 'BodyUnavailableError';
  }
}

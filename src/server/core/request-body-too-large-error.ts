import { OncelyError } from '../../errors/oncely-error.ts';

/**
 * Thrown while reading a request body for its fingerprint when it passes `maxRequestBytes`.
 * Carries `status` 413 so Express's and Fastify's error handlers answer 413 Content Too Large;
 * the web wrapper and the Hono adapter answer the 413 problem themselves.
 */
export class RequestBodyTooLargeError extends OncelyError {
  /** The limit in bytes that was passed. */
  readonly limit: number;
  /** HTTP status for frameworks that read it from errors (RFC 9110 §15.5.14). */
  readonly status = 413;
  readonly statusCode = 413;

  constructor(limit: number) {
    super('REQUEST_BODY_TOO_LARGE', `The request body exceeds ${limit} bytes.`);
    this.name = 'RequestBodyTooLargeError';
    this.limit = limit;
  }
}

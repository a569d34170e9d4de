import { HttpError } from './http-error.ts';

/**
 * 422 to a request with a key: the server already saw this key with another payload (the IETF
 * Idempotency-Key draft, §2.7). Never retried: the same key with the same mismatch fails again.
 */
export class KeyReusedError extends HttpError {
  constructor(response: Response, key: string) {
    super(
      response,
      key,
      'KEY_REUSED',
      `Idempotency key ${key} was already used with another payload`,
    );
    this.name = 'KeyReusedError';
  }
}

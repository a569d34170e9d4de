import { OncelyError } from '../errors/oncely-error.ts';

/** Thrown before any request is sent when an idempotency key breaks the key rules. */
export class InvalidKeyError extends OncelyError {
  /** The rejected key, as given (it may be very long or not a string). */
  declare readonly key: unknown;

  constructor(key: unknown, reason: string) {
    super('INVALID_KEY', `Invalid idempotency key: ${reason}`);
    this.name = 'InvalidKeyError';
    this.key = key;
  }
}

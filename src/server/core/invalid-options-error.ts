import { OncelyError } from '../../errors/oncely-error.ts';

/** Thrown when the server helper is created with options it cannot honour. */
export class InvalidOptionsError extends OncelyError {
  /** The option at fault, such as `transactional` or `leaseMs`. */
  readonly option: string;

  constructor(option: string, reason: string) {
    super('INVALID_OPTIONS', `Invalid idempotency option ${option}: ${reason}`);
    this.name = 'InvalidOptionsError';
    this.option = option;
  }
}

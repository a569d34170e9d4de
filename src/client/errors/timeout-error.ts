import { OncelyError } from '../../errors/oncely-error.ts';

/**
 * An attempt got no response in time. `scope` says which limit: `attempt` for the per-attempt
 * `timeout` (retried like a network error), `total` for `totalTimeout` (never retried).
 */
export class TimeoutError extends OncelyError {
  /** The limit that was reached, in milliseconds. */
  declare readonly timeout: number;
  declare readonly scope: 'attempt' | 'total';

  constructor(timeout: number, scope: 'attempt' | 'total') {
    super('TIMEOUT', `No response within the ${scope} timeout of ${timeout} ms`);
    this.name = 'TimeoutError';
    this.timeout = timeout;
    this.scope = scope;
  }
}

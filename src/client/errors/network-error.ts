import { OncelyError } from '../../errors/oncely-error.ts';

/** The request got no response: connection refused or reset, DNS failure… The cause is fetch's error. */
export class NetworkError extends OncelyError {
  constructor(cause: unknown) {
    super('NETWORK_ERROR', 'No response arrived: the request failed', { cause });
    this.name = 'NetworkError';
  }
}

import { OncelyError } from '../../../errors/oncely-error.ts';

/** `op.run()` or `resume()` was called after `client.close()`. */
export class ClientClosedError extends OncelyError {
  constructor() {
    super('CLIENT_CLOSED', 'The client is closed');
    this.name = 'ClientClosedError';
  }
}

import { OncelyError } from '../../errors/oncely-error.ts';

/**
 * A response that is not 2xx, once retrying is over (or was never allowed). The response is
 * unread, so its body can still be inspected. Not thrown when `throwHttpErrors` is `false`.
 */
export class HttpError extends OncelyError {
  declare readonly response: Response;
  declare readonly status: number;
  /** The idempotency key the request carried, if any. */
  declare readonly key: string | undefined;

  constructor(response: Response, key: string | undefined, code = 'HTTP_ERROR', message?: string) {
    super(code, message ?? `Request failed with status ${response.status} ${response.statusText}`);
    this.name = 'HttpError';
    this.response = response;
    this.status = response.status;
    this.key = key;
  }
}

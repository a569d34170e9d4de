import { OncelyError } from '../errors/oncely-error.ts';

/**
 * A durable operation's request cannot be written to a journal: a `ReadableStream` body (it can be
 * read only once), a `FormData` holding a file, or a body of an unknown kind. Thrown before anything
 * is sent; pass `durable: false` to send such a request without a journal.
 *
 * @example
 * ```ts
 * try { await upload.run(file) }
 * catch (error) { if (error instanceof NotPersistableError) console.log(error.bodyType) }
 * ```
 */
export class NotPersistableError extends OncelyError {
  /** What kind of body was refused: `'stream'`, `'form-file'` or the constructor's name. */
  declare readonly bodyType: string;

  constructor(bodyType: string, reason: string) {
    super('NOT_PERSISTABLE', `The request cannot be journaled: ${reason}`);
    this.name = 'NotPersistableError';
    this.bodyType = bodyType;
  }
}

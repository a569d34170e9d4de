const brand = Symbol.for('oncely.error');

/**
 * Base class of every error oncely throws. Match on {@link OncelyError.code}, never on the message:
 * codes are stable across versions, messages are for people.
 *
 * @example
 * ```ts
 * try { await client.post('/charges', { json }) }
 * catch (error) {
 *   if (isRetryLimitError(error)) console.log(error.attempts); // a typed guard, where one exists
 *   else if (isOncelyError(error)) console.log(error.code);    // any of them, by its stable code
 * }
 * ```
 */
export class OncelyError extends Error {
  // Fields here and in the other classes the client bundles are `declare`d and set in the
  // constructor: a class field would repeat each name in every browser bundle (issue 2's size
  // target) and change nothing, since every constructor sets them all.
  /** Stable, machine-readable identifier of the failure. */
  declare readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    // Each oncely error class sets its own name after this: a minifier renames classes, so
    // new.target.name would read `D` in a production bundle. It still names a user's subclass.
    this.name = new.target === OncelyError ? 'OncelyError' : new.target.name;
    Object.defineProperty(this, brand, { value: true });
  }
}

/**
 * True for any error oncely threw, optionally with the given code. It checks a registered symbol
 * rather than `instanceof`, so it also holds across realms (iframes, workers, duplicated bundles).
 */
export function isOncelyError(error: unknown, code?: string): error is OncelyError {
  if (typeof error !== 'object' || error === null) return false;
  if ((error as Record<symbol, unknown>)[brand] !== true) return false;
  return code === undefined || (error as OncelyError).code === code;
}

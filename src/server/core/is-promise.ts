/**
 * True for a promise or any thenable. The core checks before awaiting: an `await` of a plain value
 * still costs a microtask turn, and a synchronous store (the memory store) answers with plain values.
 */
export function isPromise<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

import { StoreError } from './store-error.ts';

/**
 * `error` as the {@link StoreError} of `operation`, with the driver's error as `cause`. A
 * StoreError passes through unchanged, so wrapping twice never nests.
 */
export function toStoreError(operation: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  // Node's connection errors to several addresses are AggregateErrors with an empty message.
  const code = (error as { code?: unknown } | null)?.code;
  const message =
    error instanceof Error && error.message
      ? error.message
      : typeof code === 'string'
        ? code
        : String(error);
  return new StoreError(operation, message, { cause: error });
}

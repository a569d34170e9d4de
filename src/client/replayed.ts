import { REPLAYED_HEADER } from '../protocol.ts';

/**
 * True when the server sent this response again from its store (`Idempotent-Replayed: true`)
 * instead of running the operation: the effect happened once, at an earlier attempt or call.
 *
 * @example
 * ```ts
 * const response = await client.post('/charges', { json, idempotencyKey: key });
 * if (isReplayed(response)) log.info('charge already made', key);
 * ```
 */
export function isReplayed(response: Response): boolean {
  return response.headers.get(REPLAYED_HEADER)?.trim().toLowerCase() === 'true';
}

import type { Claim } from './claim.ts';
import { RELEASE_REASONS } from './events.ts';

const encoder = new TextEncoder();

/**
 * A pass-through stream that hands every chunk on to the client at once and keeps a copy; when the
 * stream ends it stores the copy through `claim`. Past `maxBodyBytes` it stops copying and releases
 * the key (the response is still sent whole). Capturing costs far less than `Response.clone()`:
 * measured with Hono on @hono/node-server, 0.51× against 0.23× of the bare handler (issue 4).
 */
export function captureStream(
  claim: Claim,
  status: number,
  headers: Headers,
): TransformStream<Uint8Array, Uint8Array> {
  let chunks: Uint8Array[] | undefined = [];
  let size = 0;
  const limit = claim.maxBodyBytes;
  // `cancel` (WHATWG Streams, 2023) runs on client cancel and on source error; Node 24 calls it,
  // TypeScript's DOM lib does not know it yet.
  const transformer: Transformer<Uint8Array, Uint8Array> & { cancel(): Promise<void> } = {
    transform(chunk, controller) {
      const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
      controller.enqueue(bytes);
      if (chunks === undefined) return;
      size += bytes.byteLength;
      if (size > limit) {
        chunks = undefined;
        void claim.release(RELEASE_REASONS.tooLarge, status);
        return;
      }
      chunks.push(bytes);
    },
    async flush() {
      // Awaited: once a client has read the whole body, a retry finds the stored response.
      if (chunks !== undefined) await claim.complete({ status, headers, body: chunks });
    },
    async cancel() {
      // The client went away or the handler's stream failed: the response was never whole.
      chunks = undefined;
      await claim.release(RELEASE_REASONS.aborted, status);
    },
  };
  return new TransformStream(transformer);
}

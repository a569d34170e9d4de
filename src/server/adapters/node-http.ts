/** `oncely/server/node`: the idempotency helper for plain `node:http` handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createEngine, type Engine } from '../core/engine.ts';
import { RELEASE_REASONS } from '../core/events.ts';
import type { CoreOptions } from '../core/options.ts';
import { joinBody } from '../core/runtime.ts';
import { requestLimit } from '../core/settings.ts';
import type { Transaction } from '../core/transaction.ts';
import type { IdempotencyContext } from '../core/types.ts';
import { readBody } from './node-body.ts';
import { bufferResponse, captureResponse, ErrorHandlerAnswer, hasEnded } from './node-capture.ts';
import { clearHeaders, sendPlain } from './node-send.ts';

/** Options of the Node adapters: the core options, with `scope` reading Node's request. */
export interface NodeIdempotencyOptions<Req extends IncomingMessage = IncomingMessage>
  extends CoreOptions<Req> {
  /**
   * Largest request body read for the fingerprint; a larger one is refused with a
   * `RequestBodyTooLargeError` (status 413) before the handler runs.
   * @default 1_048_576 (1 MiB)
   */
  maxRequestBytes?: number;
}

/**
 * A `node:http` request handler; guarded, it gets the key's context as a third argument (in
 * transactional mode `context.tx` is the store's transaction).
 */
export type NodeHandler<Tx = unknown> = (
  req: IncomingMessage,
  res: ServerResponse,
  context: IdempotencyContext<Tx>,
) => void | Promise<void>;

const UNGUARDED: IdempotencyContext<never> = Object.freeze({
  key: undefined,
  scope: undefined,
  tx: undefined,
});

/**
 * Guards a plain `node:http` handler with an Idempotency-Key: for one key it runs once, and
 * retries get its response back byte for byte with `Idempotent-Replayed: true`. The request body
 * is read for the fingerprint and given back to the stream, so the handler reads it as usual. The
 * response is captured as it is written.
 *
 * A handler that throws (or rejects) releases the key; the adapter answers 500 if nothing was sent
 * yet and reports the error through `onError`. A handler that ended its response and then threw
 * has answered: that answer is stored and sent, and the error only reported.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { idempotency } from 'oncely/server/node';
 *
 * const guarded = idempotency({ store, scope: (req) => accountOf(req) })( // the verified account
 *   async (req, res, { key }) => {
 *     res.writeHead(201, { 'content-type': 'application/json' });
 *     res.end(JSON.stringify(await createCharge(req, key)));
 *   },
 * );
 * createServer(guarded).listen(3000);
 * ```
 */
export function idempotency<Tx = unknown>(
  options: NodeIdempotencyOptions & {
    /**
     * Called with what a handler threw, after the key was released (unless the handler had
     * ended its response first) and before the 500 is sent.
     * @default console.error
     */
    onError?: (error: unknown, req: IncomingMessage) => void;
  } = {},
): (handler: NodeHandler<Tx>) => (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const engine = createEngine<IncomingMessage>(options);
  const limit = requestLimit(options.maxRequestBytes);
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  return (handler) =>
    async function idempotent(req: IncomingMessage, res: ServerResponse): Promise<void> {
      try {
        await guard(engine, limit, handler, req, res);
      } catch (error) {
        onError(error, req);
        answerThrow(res, error);
      }
    };
}

/**
 * Answers for a handler that threw: 500 (or the error's status) if nothing was sent yet; a
 * response cut short is destroyed, so the client sees it was. One the handler had ended before it
 * threw is its answer and is left alone, even while its end still waits for the store.
 */
function answerThrow(res: ServerResponse, error: unknown): void {
  if (hasEnded(res)) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = statusOf(error);
  res.end();
}

async function guard<Tx>(
  engine: Engine<IncomingMessage>,
  limit: number,
  handler: NodeHandler<Tx>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const decision = await engine.begin({
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    header: (name) => req.headers[name],
    body: () => readBody(req, limit),
    request: req,
  });
  switch (decision.kind) {
    case 'bypass':
      return handler(req, res, UNGUARDED);
    case 'respond':
      return sendPlain(res, decision.response);
    case 'proceed': {
      const claim = decision.claim;
      captureResponse(res, claim, engine.settings.leaseMs);
      try {
        await handler(req, res, { key: claim.key, scope: claim.scope, tx: undefined });
      } catch (error) {
        await claim.release(RELEASE_REASONS.threw);
        throw error;
      }
      return;
    }
    case 'transact':
      return transactNode<Tx>(decision.transaction, res, engine.settings.leaseMs, (tx) =>
        handler(req, res, { key: decision.transaction.key, scope: decision.transaction.scope, tx }),
      );
  }
}

/**
 * Runs `run` (the handler, given the transaction) with its response held back, and sends the
 * outcome once the transaction has committed or rolled back: the handler's response, or the
 * problem that replaced it (a replay, 409, 422, 503). Shared by the node and Express adapters.
 */
export async function transactNode<Tx>(
  transaction: Transaction,
  res: ServerResponse,
  graceMs: number,
  run: (tx: Tx) => unknown,
): Promise<void> {
  const buffered = bufferResponse(res, graceMs);
  let result: Awaited<ReturnType<Transaction['run']>>;
  try {
    result = await transaction.run(async (tx: Tx) => {
      await run(tx);
      return buffered.done;
    });
  } catch (error) {
    // The handler threw and an error handler answered (Express): rolled back and released, the
    // answer is sent as it was written (its status and headers are on `res` already).
    if (!(error instanceof ErrorHandlerAnswer)) throw error;
    buffered.restore();
    res.end(joinBody(error.answer.body));
    return;
  } finally {
    buffered.restore();
  }
  if (result.kind === 'respond') {
    clearHeaders(res);
    sendPlain(res, result.response);
    return;
  }
  res.end(result.body);
}

function statusOf(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export { RequestBodyTooLargeError } from '../core/request-body-too-large-error.ts';
export type { IdempotencyContext } from '../core/types.ts';
export { RequestAbortedError } from './request-aborted-error.ts';

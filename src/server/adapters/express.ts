/** `oncely/server/express`: the idempotency helper as Express 5 middleware. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createEngine, type Decision, type Engine } from '../core/engine.ts';
import { isJsonContentType } from '../core/fingerprint.ts';
import { isPromise } from '../core/is-promise.ts';
import { requestLimit } from '../core/settings.ts';
import type { BeginInput, IdempotencyContext } from '../core/types.ts';
import { readBody } from './node-body.ts';
import { captureResponse } from './node-capture.ts';
import type { NodeIdempotencyOptions } from './node-http.ts';
import { transactNode } from './node-http.ts';
import { sendPlain } from './node-send.ts';

/** Options of the Express middleware: the core options, with `scope` reading Express's request. */
export type ExpressIdempotencyOptions = NodeIdempotencyOptions<Request>;

/**
 * Express 5 middleware that guards the routes after it with an Idempotency-Key: for one key the
 * handler runs once, and retries get its response back byte for byte with
 * `Idempotent-Replayed: true`. The response is captured as it is written (`res.send`, `res.json`,
 * `res.write`, streams piped into `res`). Guarded handlers find the key's context in
 * `res.locals.oncely` (with `tx` in transactional mode).
 *
 * Body: mounted after `express.json()` (or `raw`, `text`, `urlencoded`), the parsed body is
 * fingerprinted (JSON canonically). Without a parser before it, the middleware reads the raw bytes
 * and gives them back to the stream, so a parser or handler after it reads the request untouched.
 *
 * A handler that throws, rejects or calls `next(err)` goes to Express's error handlers as usual,
 * and the key is released: a retry runs the handler again, whatever the error handler answers
 * (a 4xx too, or a 500 with `storeServerErrors`). A handler that ended its response before it
 * threw has answered: that answer is stored and sent. (With a store that answers later, Redis or
 * PostgreSQL, and a head sent by `res.writeHead` before the end, Express's final handler may close
 * that first connection before the answer is out; the retry gets it replayed.)
 *
 * The middleware learns of the error from what Express's router (2.3, which a current Express 5
 * install resolves to) keeps on the request, read when the response ends; with an older router,
 * what an error handler answers is stored as if the handler had answered it.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { idempotency } from 'oncely/server/express';
 *
 * const app = express();
 * app.use(express.json());
 * app.post('/charges', idempotency({ store, scope: (req) => accountOf(req) }), // the verified account
 *   async (req, res) => { res.status(201).json(await createCharge(req.body)) });
 * ```
 */
export function idempotency(options: ExpressIdempotencyOptions = {}): RequestHandler {
  const engine = createEngine<Request>(options);
  const limit = requestLimit(options.maxRequestBytes);
  return function idempotencyMiddleware(req: Request, res: Response, next: NextFunction): void {
    const parsed: unknown = req.body;
    const input: BeginInput<Request> = {
      method: req.method,
      path: req.originalUrl,
      header: (name) => req.headers[name],
      request: req,
    };
    if (parsed === undefined) input.body = () => readBody(req, limit);
    else if (parsed instanceof Uint8Array) input.body = parsed;
    // A string is the text of a text body, or the value of a JSON body that is a string
    // (`"5"`, with express.json({ strict: false })): as bytes that would be re-read as JSON, and
    // match the body `5`. As in the Fastify adapter.
    else if (typeof parsed === 'string' && !isJsonContentType(req.headers['content-type'])) {
      input.body = parsed;
    } else input.json = parsed;
    let decided: Decision | Promise<Decision>;
    try {
      decided = engine.begin(input);
    } catch (error) {
      next(error);
      return;
    }
    // Decided synchronously (the memory store, a parsed body): go on in this turn.
    if (isPromise(decided)) decided.then((decision) => follow(decision, engine, res, next), next);
    else follow(decided, engine, res, next);
  };
}

function follow(decision: Decision, engine: Engine<Request>, res: Response, next: NextFunction) {
  switch (decision.kind) {
    case 'bypass':
      next();
      return;
    case 'respond':
      sendPlain(res, decision.response);
      return;
    case 'proceed': {
      const claim = decision.claim;
      captureResponse(res, claim, engine.settings.leaseMs);
      res.locals.oncely = { key: claim.key, scope: claim.scope, tx: undefined };
      next();
      return;
    }
    case 'transact': {
      const { key, scope } = decision.transaction;
      transactNode(decision.transaction, res, engine.settings.leaseMs, (tx) => {
        res.locals.oncely = { key, scope, tx } satisfies IdempotencyContext;
        next();
      }).catch(next);
      return;
    }
  }
}

export { RequestBodyTooLargeError } from '../core/request-body-too-large-error.ts';
export type { IdempotencyContext } from '../core/types.ts';
export { BodyUnavailableError } from './body-unavailable-error.ts';
export { RequestAbortedError } from './request-aborted-error.ts';

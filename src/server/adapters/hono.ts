/** `oncely/server/hono`: the idempotency helper as Hono 4 middleware. */
import type { Context, MiddlewareHandler } from 'hono';
import { captureResponse } from '../core/capture-response.ts';
import { createEngine } from '../core/engine.ts';
import { RELEASE_REASONS } from '../core/events.ts';
import { pathOf, toResponse } from '../core/idempotency.ts';
import type { CoreOptions } from '../core/options.ts';
import type { IdempotencyContext } from '../core/types.ts';

/** Options of the Hono middleware: the core options, with `scope` reading Hono's context. */
export type HonoIdempotencyOptions = CoreOptions<Context>;

/** The variables the middleware sets: `c.get('oncely')` in a guarded handler. */
export interface IdempotencyEnv<Tx = unknown> {
  Variables: { oncely: IdempotencyContext<Tx> };
}

const EMPTY = new Uint8Array(0);
// Fetch: these statuses cannot carry a body, so a Response must be built with null.
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Hono middleware that guards the routes after it with an Idempotency-Key: for one key the
 * handler runs once, and retries get its response back byte for byte with
 * `Idempotent-Replayed: true`. The handler finds the key's context in `c.get('oncely')` (with
 * `tx` in transactional mode); it is unset when the request is not guarded.
 *
 * Body: read with `c.req.arrayBuffer()`, which Hono caches, so the handler's `c.req.json()` still
 * works. Response: captured, not cloned (the core's `captureResponse`): a body that is all there
 * is read once and sent from bytes, a body still being produced is streamed while a copy is kept.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { idempotency } from 'oncely/server/hono';
 *
 * const app = new Hono();
 * app.post('/charges', idempotency({ store, scope: (c) => c.req.header('x-api-key') ?? 'anonymous' }),
 *   async (c) => c.json(await createCharge(await c.req.json()), 201));
 * ```
 */
export function idempotency<Tx = unknown>(
  options: HonoIdempotencyOptions = {},
): MiddlewareHandler<IdempotencyEnv<Tx>> {
  const engine = createEngine<Context>(options);
  return async function idempotencyMiddleware(c, next) {
    const decision = await engine.begin({
      method: c.req.method,
      path: pathOf(c.req.url),
      header: (name) => c.req.header(name),
      body: async () =>
        c.req.raw.body === null ? undefined : new Uint8Array(await c.req.arrayBuffer()),
      request: c,
    });
    switch (decision.kind) {
      case 'bypass':
        return next();
      case 'respond':
        return toResponse(decision.response);
      case 'proceed': {
        const claim = decision.claim;
        c.set('oncely', { key: claim.key, scope: claim.scope, tx: undefined });
        await next();
        if (c.error !== undefined) {
          await claim.release(RELEASE_REASONS.threw);
          return;
        }
        const res = c.res;
        const { status, headers } = res;
        if (!claim.willStore(status) || res.body === null) {
          await claim.complete({ status, headers, body: EMPTY });
          return;
        }
        replace(c, await captureResponse(claim, res));
        return;
      }
      case 'transact': {
        const transaction = decision.transaction;
        let thrown = false;
        let result: Awaited<ReturnType<typeof transaction.run<Tx, Held>>>;
        try {
          result = await transaction.run<Tx, Held>(async (tx) => {
            c.set('oncely', { key: transaction.key, scope: transaction.scope, tx });
            await next();
            // Roll the handler's writes back; Hono's error response stays in c.res.
            if (c.error !== undefined) {
              thrown = true;
              throw c.error;
            }
            const res = c.res;
            const body = res.body === null ? EMPTY : new Uint8Array(await res.arrayBuffer());
            return { status: res.status, headers: res.headers, body, res };
          });
        } catch (error) {
          if (thrown) return;
          throw error;
        }
        if (result.kind === 'respond') {
          replace(c, toResponse(result.response));
          return;
        }
        const { res } = result.response;
        const body = NULL_BODY_STATUSES.has(res.status) ? null : (result.body as BodyInit);
        replace(c, new Response(body, res));
        return;
      }
    }
  };
}

interface Held {
  status: number;
  headers: Headers;
  body: Uint8Array;
  res: Response;
}

// Hono merges the previous response's headers into one assigned over it, at the cost of another
// Response; ours carries them all already.
function replace(c: Context, response: Response): void {
  c.res = undefined;
  c.res = response;
}

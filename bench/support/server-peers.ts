/**
 * The peers the benchmark compares oncely with, on the same Express app: `express-idempotency` as
 * published, and `@node-idempotency/core` behind thin Express glue written here from its README
 * (`onRequest` before the handler, `onResponse` with what it sent), because its Express plugin is
 * not published (issue 4).
 */
import {
  Idempotency,
  IdempotencyError,
  IdempotencyErrorCodes,
  type IdempotencyResponse,
} from '@node-idempotency/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * An in-memory `StorageAdapter` for `@node-idempotency/core`, as its memory adapter package does
 * it (a Map of values with an expiry time); that package is not installed here.
 */
class MapStorage {
  readonly #items = new Map<string, { value: string; expiresAt: number }>();

  async setIfNotExists(key: string, value: string, { ttl }: { ttl?: number } = {}) {
    const item = this.#items.get(key);
    if (item !== undefined && item.expiresAt > Date.now()) return false;
    this.#items.set(key, { value, expiresAt: Date.now() + (ttl ?? Infinity) });
    return true;
  }

  async set(key: string, value: string, { ttl }: { ttl?: number } = {}) {
    this.#items.set(key, { value, expiresAt: Date.now() + (ttl ?? Infinity) });
  }

  async get(key: string) {
    const item = this.#items.get(key);
    return item !== undefined && item.expiresAt > Date.now() ? item.value : undefined;
  }
}

const STATUS_OF: Record<string, number> = {
  [IdempotencyErrorCodes.IDEMPOTENCY_KEY_MISSING]: 400,
  [IdempotencyErrorCodes.IDEMPOTENCY_KEY_LEN_EXEEDED]: 400,
  [IdempotencyErrorCodes.REQUEST_IN_PROGRESS]: 409,
  [IdempotencyErrorCodes.IDEMPOTENCY_FINGERPRINT_MISSMATCH]: 422,
};

interface Stored {
  status: number;
  contentType: string | undefined;
}

/** Express middleware over `@node-idempotency/core` with the in-memory storage. */
export function nodeIdempotency(): RequestHandler {
  const idempotency = new Idempotency(new MapStorage(), { enforceIdempotency: true });
  return async function nodeIdempotencyMiddleware(req: Request, res: Response, next: NextFunction) {
    const params = {
      headers: req.headers as Record<string, unknown>,
      path: req.path,
      method: req.method,
      body: req.body as Record<string, unknown> | undefined,
    };
    let cached: IdempotencyResponse<string, unknown> | undefined;
    try {
      cached = await idempotency.onRequest<string, unknown>(params);
    } catch (error) {
      if (!(error instanceof IdempotencyError)) return next(error);
      res.status(STATUS_OF[error.code] ?? 400).json({ error: error.code });
      return;
    }
    if (cached !== undefined) {
      const stored = cached.additional as unknown as Stored;
      if (stored.contentType !== undefined) res.set('content-type', stored.contentType);
      res.status(stored.status).set('idempotent-replayed', 'true').send(cached.body);
      return;
    }
    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      res.send = send;
      const additional: Stored = { status: res.statusCode, contentType: res.get('content-type') };
      void idempotency.onResponse(params, {
        body: typeof body === 'string' ? body : String(body),
        additional: additional as unknown as Record<string, unknown>,
      });
      return send(body);
    };
    next();
  };
}

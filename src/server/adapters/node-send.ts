import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { PlainResponse } from '../core/types.ts';
import { singleWriteBody } from './single-write.ts';

// Fetch and RFC 9110 §15.3.5, §15.4.5: these statuses carry no body.
const NO_BODY = new Set([204, 205, 304]);

/**
 * Writes a problem or a replay to a Node response. A stored header replaces one an earlier
 * middleware set under the same name (a replay is the stored response byte for byte); other
 * headers already set (CORS, request ids) are kept.
 */
export function sendPlain(res: ServerResponse, plain: PlainResponse): void {
  res.statusCode = plain.status;
  setPairs(res, plain.headers);
  if (NO_BODY.has(plain.status)) res.end();
  else res.end(singleWriteBody(plain.body));
}

/** Sets header pairs on `res`, a repeated name as repeated header lines. */
export function setPairs(res: ServerResponse, pairs: readonly [string, string][]): void {
  let seen: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (seen?.has(name)) {
      res.appendHeader(name, value);
    } else {
      res.setHeader(name, value);
      seen ??= new Set();
      seen.add(name);
    }
  }
}

/** Removes every header set so far: a problem replaces the handler's answer whole. */
export function clearHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
}

/**
 * Moves the headers given to `writeHead(status, headers)` into the response's header map, so
 * `getHeaders()` reports them; Node only merges them there when a header was set before.
 */
export function adoptHeaders(
  res: ServerResponse,
  headers: OutgoingHttpHeaders | readonly (string | readonly string[])[] | undefined,
): void {
  if (headers === undefined || headers === null) return;
  if (Array.isArray(headers)) {
    // Either [[name, value], …] or the raw form [name, value, name, value, …]. As Node's own
    // writeHead does, a name given here replaces the value set before (setHeader) and is
    // repeated only as often as it is given: appended alone, a Content-Type set earlier and the
    // one given to writeHead went out (and were stored) as one list, `text/html, text/plain`.
    const pairs: [string, string][] = [];
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const pair of headers as readonly (readonly string[])[]) {
        pairs.push([pair[0] as string, pair[1] as string]);
      }
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        pairs.push([headers[i] as string, headers[i + 1] as string]);
      }
    }
    for (const [name] of pairs) res.removeHeader(name);
    for (const [name, value] of pairs) res.appendHeader(name, value);
    return;
  }
  const object = headers as OutgoingHttpHeaders;
  for (const name of Object.keys(object)) {
    const value = object[name];
    if (value !== undefined) res.setHeader(name, value);
  }
}

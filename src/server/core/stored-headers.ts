/** Response headers as an adapter may hand them over. */
export type HeaderSource =
  | Headers
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | number | readonly string[] | undefined>>;

// RFC 9110 §7.6.1: hop-by-hop fields belong to one connection, not to the response. `date` is
// the time of sending, so a replay sends its own. `idempotent-replayed` is ours to set.
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'date',
  'idempotent-replayed',
]);

/**
 * The header pairs of a response as they will be stored: names in lower case, repeated names kept
 * in order, hop-by-hop fields (and those the `Connection` field names), `Date`, and `Set-Cookie`
 * unless `storeSetCookie` dropped. A cookie is usually a session of one client: replaying it to a
 * retry is right only when the route says so.
 */
export function storedHeaders(source: HeaderSource, storeSetCookie: boolean): [string, string][] {
  const pairs = headerPairs(source);
  let connection: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (name === 'connection') {
      connection ??= new Set();
      for (const token of value.split(',')) connection.add(token.trim().toLowerCase());
    }
  }
  const kept: [string, string][] = [];
  for (const pair of pairs) {
    const name = pair[0];
    if (DROPPED.has(name) || name.startsWith('proxy-') || connection?.has(name)) continue;
    if (name === 'set-cookie' && !storeSetCookie) continue;
    kept.push(pair);
  }
  return kept;
}

function headerPairs(source: HeaderSource): [string, string][] {
  const pairs: [string, string][] = [];
  if (isIterable(source)) {
    // Headers iterates names in lower case and yields each Set-Cookie apart.
    for (const [name, value] of source) pairs.push([name.toLowerCase(), String(value)]);
    return pairs;
  }
  for (const name of Object.keys(source)) {
    const value = source[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (typeof value === 'string' || typeof value === 'number') pairs.push([lower, String(value)]);
    else for (const item of value) pairs.push([lower, item]);
  }
  return pairs;
}

function isIterable(source: HeaderSource): source is Iterable<readonly [string, string]> {
  return typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function';
}

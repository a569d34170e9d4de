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
  // A plain object (Node's getHeaders()) is filtered as it is read: no intermediate pair list.
  if (!isIterable(source)) return storedFromObject(source, storeSetCookie);
  const pairs = headerPairs(source);
  let connection: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (name === 'connection') connection = addTokens(connection, value);
  }
  const kept: [string, string][] = [];
  for (const pair of pairs) {
    if (keeps(pair[0], connection, storeSetCookie)) kept.push(pair);
  }
  return kept;
}

function storedFromObject(
  source: Readonly<Record<string, string | number | readonly string[] | undefined>>,
  storeSetCookie: boolean,
): [string, string][] {
  const names = Object.keys(source);
  let connection: Set<string> | undefined;
  for (const name of names) {
    if (name.toLowerCase() !== 'connection') continue;
    const value = source[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) connection = addTokens(connection, item);
    else connection = addTokens(connection, String(value));
  }
  const kept: [string, string][] = [];
  for (const name of names) {
    const value = source[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (!keeps(lower, connection, storeSetCookie)) continue;
    // Node sends any value it was given as its string (setHeader('x-hit', false) is allowed).
    if (Array.isArray(value)) for (const item of value) kept.push([lower, String(item)]);
    else kept.push([lower, String(value)]);
  }
  return kept;
}

function addTokens(set: Set<string> | undefined, value: string): Set<string> {
  const tokens = set ?? new Set<string>();
  for (const token of value.split(',')) tokens.add(token.trim().toLowerCase());
  return tokens;
}

function keeps(
  name: string,
  connection: Set<string> | undefined,
  storeSetCookie: boolean,
): boolean {
  if (DROPPED.has(name) || name.startsWith('proxy-') || connection?.has(name)) return false;
  return name !== 'set-cookie' || storeSetCookie;
}

function headerPairs(source: Iterable<readonly [string, string]>): [string, string][] {
  const pairs: [string, string][] = [];
  // Headers iterates names in lower case and yields each Set-Cookie apart.
  for (const [name, value] of source) pairs.push([name.toLowerCase(), String(value)]);
  return pairs;
}

function isIterable(source: HeaderSource): source is Iterable<readonly [string, string]> {
  return typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function';
}

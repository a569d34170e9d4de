/**
 * The store id of `key` within `scope`: the scope's length, the scope, then the key. The length
 * prefix makes the split unambiguous whatever characters either side holds, so no scope can name
 * an id that belongs to another (`'a:b' + 'c'` and `'a' + 'b:c'` give `3:a:b:c` and `1:a:b:c`).
 *
 * A scope with a lone surrogate (a tenant id decoded from JSON's `"\ud800"`, say) is written as
 * its UTF-16 code units in hex after `!`: stores that keep ids as UTF-8 (Redis, SQLite,
 * PostgreSQL) would otherwise turn every lone surrogate into U+FFFD, and two such scopes would
 * share records. A scope with a NUL (U+0000) goes the same way: PostgreSQL's text cannot hold one
 * and refused every call of that scope. A scope written as it is never gives `<digits>!`, so the
 * two forms cannot meet.
 */
export function recordId(scope: string, key: string): string {
  if ((scope as unknown as WellFormed).isWellFormed() && !scope.includes('\0')) {
    return `${scope.length}:${scope}:${key}`;
  }
  let units = '';
  for (let i = 0; i < scope.length; i++) units += scope.charCodeAt(i).toString(16).padStart(4, '0');
  return `${scope.length}!${units}:${key}`;
}

/** ES2024's String.prototype.isWellFormed (Node 20+), outside the project's ES2023 lib. */
interface WellFormed {
  isWellFormed(): boolean;
}

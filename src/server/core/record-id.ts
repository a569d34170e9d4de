/**
 * The store id of `key` within `scope`: the scope's length, the scope, then the key. The length
 * prefix makes the split unambiguous whatever characters either side holds, so no scope can name
 * an id that belongs to another (`'a:b' + 'c'` and `'a' + 'b:c'` give `3:a:b:c` and `1:a:b:c`).
 */
export function recordId(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}

import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { entryPoints, root } from './type-check.ts';

/**
 * Which subpath a user imports a symbol from, read from the sources' `export` statements (the
 * native tsc has no API to ask). Enough for how this repository writes them: `export *`,
 * `export { a, type B, c as d } from`, `export { a }` of an import, and exported declarations.
 * A name it gets wrong still fails in tsc, where the example that imports it is checked.
 */

/** Exported name → the file (from the root) that declares it. */
export type Exports = Map<string, string>;

const DECLARATION =
  /^export\s+(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|const|let|var|class|interface|type|enum)\s+([\w$]+)/gm;
const NAMED = /export\s+(?:type\s+)?\{([^}]*)\}\s*(?:from\s*'([^']+)')?/g;
const STAR = /export\s+\*\s+from\s*'([^']+)'/g;
const IMPORT = /import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'([^']+)'/g;

const cache = new Map<string, Exports>();

/** `a as b` → [a, b], `type C` → [C, C], comments dropped. */
function specifiers(list: string): [local: string, exported: string][] {
  return list
    .replace(/\/\/.*$/gm, '')
    .split(',')
    .map((item) => item.trim().replace(/^type\s+/, ''))
    .filter(Boolean)
    .map((item) => {
      const [local, exported = local] = item.split(/\s+as\s+/) as [string, string?];
      return [local, exported];
    });
}

export function exportsOf(file: string): Exports {
  const known = cache.get(file);
  if (known) return known;
  const exports: Exports = new Map();
  cache.set(file, exports);
  const text = readFileSync(join(root, file), 'utf8');
  const resolve = (from: string) => relative(root, join(root, dirname(file), from));
  const imported = new Map<string, string>();
  for (const [, list, from] of text.matchAll(IMPORT)) {
    for (const [local] of specifiers(list as string)) imported.set(local, from as string);
  }
  for (const [, name] of text.matchAll(DECLARATION)) exports.set(name as string, file);
  for (const [, from] of text.matchAll(STAR)) {
    for (const [name, origin] of exportsOf(resolve(from as string))) exports.set(name, origin);
  }
  for (const [, list, from] of text.matchAll(NAMED)) {
    for (const [local, exported] of specifiers(list as string)) {
      const source = from ?? imported.get(local);
      const origin = source?.startsWith('.') ? exportsOf(resolve(source)).get(local) : file;
      exports.set(exported, origin ?? file);
    }
  }
  return exports;
}

/** Subpath (`oncely/server`) → what it exports, in package.json's order. */
export function publicExports(): Map<string, Exports> {
  const all = new Map<string, Exports>();
  for (const [specifier, source] of entryPoints()) all.set(specifier, exportsOf(source));
  return all;
}

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What the code checks of the docs share: modules written to a temporary folder import `oncely`,
 * `oncely/server/…` as a user does, and `paths` maps each subpath of package.json's `exports` to its
 * source file, so no build is needed. One `tsc` run checks them all (the native compiler: about a
 * second).
 */
export const root = join(import.meta.dirname, '..', '..', '..');

export interface Diagnostic {
  file: string;
  line: number;
  text: string;
}

/** A folder that resolves the project's node_modules and reads `.ts` files as ES modules. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  return dir;
}

/** `oncely/server/express` → `src/server/adapters/express.ts`, in package.json's order. */
export function entryPoints(): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { types: string }>;
  };
  const entries = new Map<string, string>();
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') continue;
    const source = target.types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts');
    entries.set(subpath === '.' ? 'oncely' : `oncely/${subpath.slice(2)}`, source);
  }
  return entries;
}

function subpaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const [specifier, source] of entryPoints()) paths[specifier] = [join(root, source)];
  // For blocks addressed to contributors (a new store or journal joins its contract suite).
  paths['#test/*'] = [join(root, 'test', '*')];
  return paths;
}

function runTsc(dir: string, files: string[]): Diagnostic[] {
  const compilerOptions = {
    target: 'ES2023',
    lib: ['ES2023', 'DOM', 'DOM.Iterable'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    // What the sources need to be compiled from .ts (they import './x.ts').
    allowImportingTsExtensions: true,
    paths: subpaths(),
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
  const result = spawnSync(
    join(root, 'node_modules', '.bin', 'tsc'),
    ['-p', join(dir, 'tsconfig.json'), '--pretty', 'false'],
    { cwd: dir, encoding: 'utf8' },
  );
  const diagnostics: Diagnostic[] = [];
  for (const row of `${result.stdout}${result.stderr}`.split('\n')) {
    const match = /^(.+?)\((\d+),\d+\): (error .*)$/.exec(row);
    if (match) {
      diagnostics.push({
        file: match[1] as string,
        line: Number(match[2]),
        text: match[3] as string,
      });
    } else if (row.trim() && diagnostics.length > 0) {
      (diagnostics.at(-1) as Diagnostic).text += `\n${row}`;
    } else if (row.trim()) {
      diagnostics.push({ file: '', line: 0, text: row });
    }
  }
  if (result.status !== 0 && diagnostics.length === 0) {
    diagnostics.push({ file: '', line: 0, text: `tsc exited ${result.status}` });
  }
  return diagnostics;
}

/**
 * Type-checks `files` (names relative to `dir`, where tsc runs, so a diagnostic names a checked
 * file as written and anything else by a path).
 */
export function typeCheck(dir: string, files: string[]): Diagnostic[] {
  // tsc reports only syntax errors while any file has one: a file that does not parse is
  // reported, and the others are checked again without it.
  const diagnostics = runTsc(dir, files);
  const unparsed = new Set(
    diagnostics.filter((d) => /^error TS1\d{3}:/.test(d.text)).map((d) => d.file),
  );
  if (unparsed.size === 0) return diagnostics;
  const rest = files.filter((file) => !unparsed.has(file));
  return [...diagnostics.filter((d) => unparsed.has(d.file)), ...runTsc(dir, rest)];
}

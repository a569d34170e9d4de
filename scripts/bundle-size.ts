/**
 * `npm run size`: the browser client's size, minified and gzipped, dependencies included
 * (issue 2: 10 KB gzip at most). Also the ky integration, without ky itself. Exits 1 over budget.
 */
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const BUDGET_GZIP = 10 * 1024;

interface Entry {
  readonly name: string;
  /** Source of the entry module, resolved from the repository root. */
  readonly source: string;
  readonly external: string[];
  readonly budget?: number;
}

const entries: Entry[] = [
  {
    name: 'oncely (src/index.ts)',
    source: "export * from './src/index.ts';",
    external: [],
    budget: BUDGET_GZIP,
  },
  {
    // What an application that only calls createClient ships, after tree shaking.
    name: 'createClient only (tree-shaken)',
    source: "export { createClient } from './src/index.ts';",
    external: [],
  },
  {
    // Issue 2's target: the browser client with its IndexedDB journal.
    name: 'oncely + oncely/browser (IndexedDB journal)',
    source: "export * from './src/index.ts'; export * from './src/browser.ts';",
    external: [],
    budget: BUDGET_GZIP,
  },
  {
    name: 'oncely/ky (src/ky.ts, ky excluded)',
    source: "export * from './src/ky.ts';",
    external: ['ky'],
  },
];

let failed = false;
for (const entry of entries) {
  const result = await build({
    stdin: {
      contents: entry.source,
      resolveDir: fileURLToPath(new URL('..', import.meta.url)),
      loader: 'ts',
    },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: entry.external,
    write: false,
    logLevel: 'error',
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const gzip = gzipSync(code, { level: 9 }).length;
  const over = entry.budget !== undefined && gzip > entry.budget;
  failed ||= over;
  const budget =
    entry.budget === undefined ? '' : ` (budget ${kb(entry.budget)} gzip${over ? ': OVER' : ''})`;
  console.log(`${entry.name}: ${kb(code.length)} minified, ${kb(gzip)} gzip${budget}`);
}
process.exitCode = failed ? 1 : 0;

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KB`;
}

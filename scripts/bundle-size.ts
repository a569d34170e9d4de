/**
 * `npm run size`: the browser client's size, minified and gzipped, dependencies included.
 * Issue 2's budget (10 KB gzip at most) applies to the client with its IndexedDB journal as an app
 * imports them; the whole entries and the ky integration (without ky itself) are printed too.
 * Exits 1 over budget. `--analyze` prints esbuild's per-module breakdown of the budgeted bundle.
 */
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { analyzeMetafile, build } from 'esbuild';

const BUDGET_GZIP = 10 * 1024;
const analyze = process.argv.includes('--analyze');

interface Entry {
  readonly name: string;
  /** Source of the entry module, resolved from the repository root. */
  readonly source: string;
  readonly external: string[];
  readonly budget?: number;
}

const entries: Entry[] = [
  {
    // Issue 2's target, measured as a browser app ships it: the client and the IndexedDB journal
    // imported by name from their two entries and used, everything else tree-shaken away.
    name: 'app: createClient + indexedDbJournal (tree-shaken)',
    source: [
      "import { createClient } from './src/index.ts';",
      "import { indexedDbJournal } from './src/browser.ts';",
      'export const client = createClient({ journal: indexedDbJournal(), resume: true });',
    ].join('\n'),
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
    name: 'oncely, everything (export *)',
    source: "export * from './src/index.ts';",
    external: [],
  },
  {
    name: 'oncely + oncely/browser, everything (export *)',
    source: "export * from './src/index.ts'; export * from './src/browser.ts';",
    external: [],
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
    // The project's own target (tsconfig.json): evergreen browsers run it as is, nothing is
    // downlevelled (private `#fields` lowered to WeakMaps would weigh more).
    target: 'es2023',
    external: entry.external,
    write: false,
    metafile: true,
    logLevel: 'error',
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const gzip = gzipSync(code, { level: 9 }).length;
  const over = entry.budget !== undefined && gzip > entry.budget;
  failed ||= over;
  const budget =
    entry.budget === undefined
      ? ''
      : over
        ? ` (budget ${kb(entry.budget)} gzip: OVER by ${gzip - entry.budget} bytes)`
        : ` (budget ${kb(entry.budget)} gzip: ${entry.budget - gzip} bytes to spare)`;
  console.log(`${entry.name}: ${kb(code.length)} minified, ${kb(gzip)} gzip${budget}`);
  if (analyze && entry.budget !== undefined) console.log(await analyzeMetafile(result.metafile));
}
process.exitCode = failed ? 1 : 0;

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KB`;
}

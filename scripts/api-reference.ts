/**
 * `npm run docs:api`: the API reference in docs/api/, generated from the TSDoc of every package
 * subpath (package.json `exports`, so no list is kept by hand) by TypeDoc and
 * typedoc-plugin-markdown.
 *
 * TypeDoc needs the JavaScript compiler API, which TypeScript 7 (native) no longer has, and npm
 * cannot nest a TypeScript 5.9 under TypeDoc next to the project's 7 (a peer dependency cannot be
 * overridden per package: ERESOLVE). So TypeDoc runs from `npx` with its own pinned TypeScript 5.9,
 * in npx's cache, never touching the project's node_modules.
 *
 * Each subpath gets a one-line entry file in a temporary directory, `export * from '<source>'`
 * under `@module <subpath>`, so the reference is organised by what users import
 * (`oncely/server/express`), not by source file names.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What each subpath is for, and the guide that explains it (links relative to docs/api/). */
const GUIDES: Record<string, [what: string, guide: string]> = {
  oncely: [
    'the client: createClient, durable operations, resume, keys, retry rules, errors',
    'client.md',
  ],
  'oncely/ky': ['the retry rules and keys for your own ky instance', 'client.md'],
  'oncely/browser': ['indexedDbJournal: durable operations in a browser', 'journals.md'],
  'oncely/node': ['fileJournal: durable operations in Node', 'journals.md'],
  'oncely/server': ['idempotency() for fetch-style handlers, its engine, memoryStore', 'server.md'],
  'oncely/server/sqlite': ['sqliteStore', 'stores.md'],
  'oncely/server/redis': ['redisStore', 'stores.md'],
  'oncely/server/postgres': ['postgresStore and its transactional mode', 'stores.md'],
  'oncely/server/express': ['the Express 5 middleware', 'adapters.md'],
  'oncely/server/fastify': ['the Fastify 5 plugin and route hooks', 'adapters.md'],
  'oncely/server/hono': ['the Hono 4 middleware', 'adapters.md'],
  'oncely/server/node': ['the node:http wrapper', 'adapters.md'],
};

const TOOLS = ['typescript@5.9.3', 'typedoc@0.28.20', 'typedoc-plugin-markdown@4.14.1'];

const root = fileURLToPath(new URL('../', import.meta.url));
const out = join(root, 'docs/api');

interface ExportTarget {
  types?: string;
  default?: string;
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, ExportTarget | string>;
};

/** `./dist/server/adapters/express.d.ts` → `src/server/adapters/express.ts`. */
function sourceOf(target: ExportTarget | string): string | undefined {
  const types = typeof target === 'string' ? undefined : target.types;
  if (!types?.startsWith('./dist/') || !types.endsWith('.d.ts')) return undefined;
  return `src/${types.slice('./dist/'.length, -'.d.ts'.length)}.ts`;
}

const entries = Object.entries(pkg.exports).flatMap(([subpath, target]) => {
  const source = sourceOf(target);
  if (!source) return [];
  const name = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
  return [{ name, source }];
});

const work = mkdtempSync(join(tmpdir(), 'oncely-api-'));
try {
  const entryPoints = entries.map(({ name, source }) => {
    const file = join(work, `${name.replaceAll('/', '--')}.ts`);
    const comment = `/**\n * \`import … from '${name}'\`\n * @module ${name}\n */`;
    // Relative, as rewriteRelativeImportExtensions requires of a `.ts` specifier.
    const specifier = relative(work, join(root, source));
    writeFileSync(file, `${comment}\nexport * from '${specifier}';\n`);
    return file;
  });
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: { typeRoots: [join(root, 'node_modules/@types')], noEmit: true },
      include: [join(work, '*.ts'), join(root, 'src')],
    }),
  );
  writeFileSync(
    join(work, 'typedoc.json'),
    JSON.stringify({
      entryPoints,
      tsconfig: join(work, 'tsconfig.json'),
      out,
      plugin: ['typedoc-plugin-markdown'],
      name: `${pkg.name} API reference`,
      readme: 'none',
      cleanOutputDir: true,
      disableSources: true,
      excludePrivate: true,
      excludeInternal: true,
      sort: ['kind', 'alphabetical'],
      // Internal types referenced by public ones (RetryPolicy, PersistedRequest…) are shown inline.
      validation: { notExported: false, invalidLink: true, notDocumented: false },
      hidePageHeader: true,
      hideBreadcrumbs: false,
      useCodeBlocks: true,
      expandObjects: true,
      parametersFormat: 'table',
      interfacePropertiesFormat: 'table',
      classPropertiesFormat: 'table',
      typeAliasPropertiesFormat: 'table',
      enumMembersFormat: 'table',
      entryFileName: 'README.md',
    }),
  );
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  const args = ['--yes', ...TOOLS.flatMap((tool) => ['-p', tool]), 'typedoc'];
  const run = spawnSync(npx, [...args, '--options', join(work, 'typedoc.json')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (run.status !== 0) process.exitCode = run.status ?? 1;
  else writeIndex();
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** docs/api/README.md: TypeDoc's list of modules, as a table that also says what each is for. */
function writeIndex(): void {
  const rows = entries.map(({ name }) => {
    const [what, guide] = GUIDES[name] ?? ['', ''];
    const guideLink = guide ? `[${guide}](../${guide})` : '';
    return `| [\`${name}\`](${name}/README.md) | ${what} | ${guideLink} |`;
  });
  const index = [
    '# oncely API reference',
    '',
    'Generated from the TSDoc in `src/` by `npm run docs:api` ([scripts/api-reference.ts](../../scripts/api-reference.ts));',
    'do not edit by hand. One section per import path of the package; the guides explain how the',
    'pieces fit together ([docs index](../README.md)).',
    '',
    '| import | what | guide |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(join(out, 'README.md'), index);
}

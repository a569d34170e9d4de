import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What a user gets from the registry: pack the package (which builds it), unpack the tarball into a
 * fresh folder's node_modules, and import every subpath from there, as msw's test/modules does.
 * Dependencies are linked from this checkout so the test needs no network.
 */
const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};

// One export each subpath must have, so a subpath that resolves to the wrong file fails.
const EXPECTED: Record<string, string> = {
  oncely: 'createClient',
  'oncely/ky': 'idempotency',
  'oncely/node': 'fileJournal',
  'oncely/server': 'idempotency',
  'oncely/server/sqlite': 'sqliteStore',
  'oncely/server/redis': 'redisStore',
  'oncely/server/postgres': 'postgresStore',
  'oncely/server/express': 'idempotency',
  'oncely/server/fastify': 'idempotency',
  'oncely/server/hono': 'idempotency',
  'oncely/server/node': 'idempotency',
};

let app: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'oncely-modules-'));
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', app], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const target = join(app, 'node_modules', 'oncely');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', [
    '-xzf',
    join(app, packed.split('\n').pop() as string),
    '-C',
    target,
    '--strip-components=1',
  ]);
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name === 'oncely' || name.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', name), join(app, 'node_modules', name));
  }
}, 120_000);

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

function importIn(dir: string, specifier: string, conditions: string[] = []): string {
  const script = `import(${JSON.stringify(specifier)}).then((m) => console.log(Object.keys(m).sort().join(',')))`;
  return execFileSync(
    process.execPath,
    [...conditions.map((c) => `--conditions=${c}`), '-e', script],
    {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

describe('the packed package', () => {
  it('declares every subpath this test checks', () => {
    const declared = Object.keys(manifest.exports)
      .filter((path) => path !== './package.json')
      .map((path) => (path === '.' ? 'oncely' : `oncely/${path.slice(2)}`));
    expect(declared.sort()).toEqual([...Object.keys(EXPECTED), 'oncely/browser'].sort());
  });

  it.each(Object.entries(EXPECTED))('resolves %s in Node with its exports', (specifier, name) => {
    expect(importIn(app, specifier).trim().split(',')).toContain(name);
  });

  function typeCheck(name: string, imports: [string, string][], options: object): string {
    const lines = imports.map(
      ([specifier, id], i) => `import { ${id} as e${i} } from '${specifier}';\nvoid e${i};`,
    );
    writeFileSync(join(app, `${name}.ts`), `${lines.join('\n')}\n`);
    const compilerOptions = { target: 'ES2023', strict: true, noEmit: true, ...options };
    writeFileSync(
      join(app, `${name}.json`),
      JSON.stringify({ compilerOptions, files: [`${name}.ts`] }),
    );
    const result = spawnSync(
      join(root, 'node_modules', '.bin', 'tsc'),
      ['-p', join(app, `${name}.json`)],
      {
        encoding: 'utf8',
      },
    );
    return `${result.stdout}${result.stderr}${result.status === 0 ? '' : `exit ${result.status}`}`;
  }

  // Strict consumers without skipLibCheck and with plain ES2023 libs: the shipped .d.ts files must
  // resolve their own imports and need no newer lib.
  it('type-checks a Node consumer of every Node subpath', () => {
    const options = {
      lib: ['ES2023', 'DOM'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
    };
    expect(typeCheck('node-consumer', Object.entries(EXPECTED), options)).toBe('');
  });

  it('type-checks a browser consumer without Node types', () => {
    const imports: [string, string][] = [
      ['oncely', 'createClient'],
      ['oncely/browser', 'indexedDbJournal'],
      ['oncely/ky', 'idempotency'],
    ];
    const options = {
      lib: ['ES2023', 'DOM', 'DOM.Iterable'],
      module: 'ESNext',
      moduleResolution: 'Bundler',
      types: [],
    };
    expect(typeCheck('browser-consumer', imports, options)).toBe('');
  });

  it('fences the browser entry off from Node', () => {
    expect(() => importIn(app, 'oncely/browser')).toThrow(
      /ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/,
    );
  });

  it('bundles oncely and oncely/browser for a browser without any Node module', async () => {
    const result = await build({
      stdin: {
        contents: "export * from 'oncely'; export * from 'oncely/browser';",
        resolveDir: app,
      },
      bundle: true,
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.includes('idb-keyval'))).toBe(true);
    expect(inputs.filter((input) => input.startsWith('node:'))).toEqual([]);
  });

  it('fences the Node entry off from browser bundles', async () => {
    await expect(
      build({
        stdin: { contents: "export * from 'oncely/node';", resolveDir: app },
        bundle: true,
        platform: 'browser',
        write: false,
        logLevel: 'silent',
      }),
    ).rejects.toThrow();
  });

  it('installs the oncely command', () => {
    const out = execFileSync(
      process.execPath,
      [join(app, 'node_modules', 'oncely', 'dist', 'cli', 'main.js'), '--help'],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toContain('oncely journal');
  });
});

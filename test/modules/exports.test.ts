import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
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
  execFileSync('tar', ['-xzf', join(app, packed.split('\n').pop() as string), '-C', target, '--strip-components=1']);
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
  return execFileSync(process.execPath, [...conditions.map((c) => `--conditions=${c}`), '-e', script], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('the packed package', () => {
  it('declares every subpath this test checks', () => {
    const declared = Object.keys(manifest.exports)
      .filter((path) => path !== './package.json')
      .map((path) => (path === '.' ? 'oncely' : `oncely/${path.slice(2)}`));
    expect(declared.sort()).toEqual([...Object.keys(EXPECTED), 'oncely/browser'].sort());
  });

  it.each(Object.entries(EXPECTED))('resolves %s in Node with its exports and types', (specifier, name) => {
    expect(importIn(app, specifier).trim().split(',')).toContain(name);
    const subpath = specifier === 'oncely' ? '.' : `./${specifier.slice('oncely/'.length)}`;
    const entry = manifest.exports[subpath] as { types: string };
    expect(readFileSync(join(app, 'node_modules', 'oncely', entry.types), 'utf8')).toContain(name);
  });

  it('fences the browser entry off from Node', () => {
    expect(() => importIn(app, 'oncely/browser')).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/);
  });

  it('bundles oncely and oncely/browser for a browser without any Node module', async () => {
    const result = await build({
      stdin: { contents: "export * from 'oncely'; export * from 'oncely/browser';", resolveDir: app },
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
    const out = execFileSync(process.execPath, [join(app, 'node_modules', 'oncely', 'dist', 'cli', 'main.js'), '--help'], {
      encoding: 'utf8',
    });
    expect(out).toContain('oncely journal');
  });
});

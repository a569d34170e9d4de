import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * A production bundle renames classes (`var D = class extends R`), so an error naming itself after
 * its class (`new.target.name`) reads `D` in every browser log and error tracker. Each error class
 * names itself; this bundles the public entries minified, as an app's build does, and checks.
 */
const root = join(import.meta.dirname, '..', '..');
const ENTRIES = [
  'src/index.ts',
  'src/node.ts',
  'src/server/index.ts',
  'src/server/adapters/express.ts',
  'src/server/adapters/fastify.ts',
];

// How to build each error class the entries export. A class missing here fails the test, so a
// new error cannot skip the check.
const response = () => new Response('', { status: 500 });
const ARGS: Record<string, () => unknown[]> = {
  OncelyError: () => ['CODE', 'message'],
  InvalidKeyError: () => ['', 'the key is empty'],
  HttpError: () => [response(), 'k'],
  KeyRequiredError: () => [response()],
  KeyReusedError: () => [response(), 'k'],
  NetworkError: () => [new TypeError('fetch failed')],
  TimeoutError: () => [10, 'attempt'],
  RetryLimitError: () => ['k', [], 'attempts'],
  RetryAfterTooLongError: () => [120_000, 60_000, 'k', [], response()],
  OperationPendingError: () => ['id', 'pay', 'k', 1, undefined, new Error('down')],
  ClientClosedError: () => [],
  DuplicateOperationError: () => ['pay'],
  JournalError: () => ['put', 'failed'],
  JournalLockedError: () => ['/tmp/j.lock', undefined],
  NotPersistableError: () => ['stream', 'a stream'],
  InvalidOptionsError: () => ['ttlMs', 'must be positive'],
  StoreError: () => ['claim', 'down'],
  RequestBodyTooLargeError: () => [1024],
  BodyUnavailableError: () => [],
  RequestAbortedError: () => [],
};

const dir = mkdtempSync(join(tmpdir(), 'oncely-minified-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('error names in a minified bundle', () => {
  it('every exported error class keeps its own name', async () => {
    const names = new Set<string>();
    const result = await build({
      stdin: {
        contents: ENTRIES.map((entry) => `export * from './${entry}';`).join('\n'),
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'node',
      target: 'es2023',
      packages: 'external',
      write: false,
      logLevel: 'error',
    });
    const file = join(dir, 'bundle.mjs');
    writeFileSync(file, result.outputFiles[0]?.contents ?? '');
    const bundle = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(bundle)) {
      if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue;
      names.add(name);
      const args = ARGS[name];
      expect(args, `no constructor arguments listed for ${name}`).toBeDefined();
      const error = Reflect.construct(value, args?.() ?? []) as Error;
      expect(error.name).toBe(name);
    }
    // The bundle did rename classes, or this test would pass without the fix.
    expect(String(result.outputFiles[0]?.text)).not.toContain('class TimeoutError');
    expect([...names].sort()).toEqual(Object.keys(ARGS).sort());
  });
});

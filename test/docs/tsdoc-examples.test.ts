import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCases } from './support/compile-cases.ts';
import { exportsOf, publicExports } from './support/public-exports.ts';
import { root, scratchDir, typeCheck } from './support/type-check.ts';

/**
 * Users read the `@example`s of the TSDoc in their editor's hover and in docs/api: each must
 * compile as they would write it. Every ```ts block of an `@example` in src/ becomes a module,
 * type-checked against the package's subpaths as docs/snippets.test.ts checks the docs' blocks.
 *
 * What an example may leave out, because the reader knows it from where they read it:
 * - imports from the subpath that exports the documented symbol (the hover of `keyFrom` is read
 *   by someone who imports from `oncely`): any of its exports the example names is imported.
 *   Anything from another subpath is imported in the example itself. An example of an internal
 *   symbol (no subpath exports it) is for contributors, and is checked against its own file.
 * - the object around an option: an example on an interface member that reads `name: value` is
 *   checked as a property of that interface (`Partial<…>`).
 * - what the reader brings (their `order`, their `store`): declared in CONTEXT below, not in the
 *   example, so the hover shows only the call.
 *
 * An `@example` is a fenced ```ts block, never an inline code span: an editor shows an example's
 * text as code, so backticks or prose in it show up as code too.
 */

// What several examples' readers bring.
const LOG = 'declare const log: Console;';
const CLIENT = 'declare const client: Client;';
const ORDER = 'interface Order { id: string } declare const order: Order;';
const PAY = `${ORDER} declare const pay: Operation<Order>;`;
const JSON_BODY = 'declare const json: unknown;';
const ENTRY = 'declare const entry: JournalEntry;';
const HANDLER = 'declare const handler: IdempotentHandler;';
const ROUTE = [
  "import type { Store } from 'oncely/server';",
  'declare const store: Store;',
  'declare function createCharge(...input: unknown[]): Promise<{ id: string }>;',
  'declare function accountOf(request: unknown): string;',
].join('\n');

/**
 * `declare`s of what the reader brings, by example (`file#n`: the file's n-th `@example`). Names
 * of the example's own subpath used here are imported as the example's are.
 */
const CONTEXT: Record<string, string> = {
  'src/client/create-client.ts#1': `${JSON_BODY} declare const acct: string;`,
  'src/client/events.ts#1': LOG,
  'src/client/operations/create-operations.ts#1': `${CLIENT} ${ORDER}`,
  'src/client/operations/create-operations.ts#2': CLIENT,
  'src/client/operations/definition.ts#1': `${CLIENT} declare function markPaid(id: string): void;
declare function markFailed(id: string, error: unknown): void;`,
  'src/client/operations/errors/index.ts#1': `${PAY} declare function showQueued(at?: number): void;`,
  'src/client/operations/errors/operation-pending-error.ts#1': `${PAY} declare function toast(message: string): void;`,
  'src/client/operations/options.ts#3': 'declare const ui: { warn(message: string): void };',
  'src/client/options.ts#4': 'declare const session: { token(): Promise<string> };',
  'src/client/replayed.ts#1': `${CLIENT} ${JSON_BODY} ${LOG} declare const key: string;`,
  'src/errors/oncely-error.ts#1': `${CLIENT} ${JSON_BODY}`,
  'src/journal/file.ts#1': LOG,
  'src/journal/journal-error.ts#1': `declare const op: Operation<string>; declare const input: string;
declare function showOfflineBanner(action: JournalAction): void;`,
  'src/journal/journal.ts#1': ENTRY,
  'src/journal/journal.ts#2': 'declare const journal: Journal;',
  'src/journal/not-persistable-error.ts#1':
    'declare const upload: Operation<File>; declare const file: File;',
  'src/journal/serialize.ts#1': `import type { RequestParts } from 'oncely';\ndeclare const request: RequestParts;`,
  'src/journal/serialize.ts#3': `import type { JournalEntry } from 'oncely';\n${ENTRY}`,
  'src/key/key-from.ts#1': 'declare const order: { id: string }; declare const acct: string;',
  'src/key/key-from.ts#2': 'declare const iban: string; declare const amount: number;',
  'src/key/window.ts#1': 'declare const accountId: string;',
  'src/ky.ts#2': JSON_BODY,
  'src/server/adapters/express.ts#1': ROUTE,
  'src/server/adapters/fastify.ts#1': `${ROUTE}\nimport type { FastifyInstance } from 'fastify';
declare const app: FastifyInstance;`,
  'src/server/adapters/fastify.ts#2': ROUTE,
  'src/server/adapters/hono.ts#1': ROUTE,
  'src/server/adapters/node-http.ts#1': ROUTE,
  'src/server/core/engine.ts#1': `import type { IncomingMessage } from 'node:http';
declare const store: Store; declare const req: IncomingMessage; declare const bytes: Uint8Array;
declare function accountOf(request: IncomingMessage): string;`,
  'src/server/core/idempotency.ts#1': `declare const store: Store;
declare const scope: (request: Request) => string;`,
  'src/server/core/idempotency.ts#2': `${ROUTE}\nimport type { RedisCommander } from 'oncely/server/redis';\ndeclare const client: RedisCommander;`,
  'src/server/core/options.ts#1': 'declare function accountOf(request: unknown): string;',
  'src/server/core/options.ts#3': 'declare const logger: { info(fields: object): void };',
  'src/server/stores/memory.ts#1': HANDLER,
  'src/server/stores/postgres.ts#1': `import type { IdempotentHandler } from 'oncely/server';\n${HANDLER}`,
  'src/server/stores/redis.ts#1': `import type { IdempotentHandler } from 'oncely/server';\n${HANDLER}`,
  'src/server/stores/sqlite.ts#1': `import type { IdempotentHandler } from 'oncely/server';\n${HANDLER}`,
};

/**
 * Examples known not to compile, in files others are changing now (src/server/core/,
 * src/server/stores/memory.ts): expected to fail, so the set must shrink as they are fixed (an
 * example that compiles again fails here until it is removed).
 */
const KNOWN_BROKEN = new Set<string>([]);

interface Example {
  /** `src/key/key-from.ts#2`: the file's second `@example` (stable while lines above it move). */
  name: string;
  file: string;
  /** Line of the code's first line in the file. */
  line: number;
  code: string[];
  /** The declaration the comment documents: for a member, its interface or class. */
  symbol: string | undefined;
  member: string | undefined;
  /** An `@example` without a ```ts block. */
  unfenced: string | undefined;
}

const TOP_LEVEL =
  /^export\s+(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|const|let|class|interface|type|enum)\s+([\w$]+)/;
const MEMBER = /^\s+(?:readonly\s+)?([\w$]+)\??\s*[:(<]/;
const CONTAINER = /^(?:export\s+)?(?:interface|class|type)\s+([\w$]+)/;
const FENCE_OPEN = /^```(ts|typescript)\s*$/;
const FENCE_CLOSE = /^```\s*$/;

function extract(file: string): Example[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let start = 0; start < lines.length; start++) {
    if (!/^\s*\/\*\*/.test(lines[start] as string)) continue;
    let end = start;
    while (end < lines.length && !(lines[end] as string).includes('*/')) end++;
    let next = end + 1;
    while (next < lines.length && !(lines[next] as string).trim()) next++;
    const declaration = lines[next] ?? '';
    const member = TOP_LEVEL.test(declaration) ? undefined : MEMBER.exec(declaration)?.[1];
    let symbol = TOP_LEVEL.exec(declaration)?.[1];
    for (let up = start; member && !symbol && up >= 0; up--) {
      symbol = CONTAINER.exec(lines[up] as string)?.[1];
    }
    // ` * text` → `text`, keeping the code's own indentation.
    const text = (k: number) => (lines[k] as string).replace(/^\s*\*(?: |$)/, '');
    if (end === start && (lines[start] as string).includes('@example')) {
      const name = `${file}#${examples.length + 1}`;
      examples.push({ name, file, line: 0, code: [], symbol, member, unfenced: '(one line)' });
    }
    for (let k = start + 1; k < end; k++) {
      const tag = /^@example\b\s*(.*)$/.exec(text(k));
      if (!tag) continue;
      const example: Example = {
        name: `${file}#${examples.length + 1}`,
        file,
        line: 0,
        code: [],
        symbol,
        member,
        unfenced: tag[1] || undefined,
      };
      examples.push(example);
      if (example.unfenced) continue;
      let k2 = k + 1;
      while (k2 < end && !FENCE_OPEN.test(text(k2)) && !text(k2).startsWith('@')) k2++;
      if (k2 === end || !FENCE_OPEN.test(text(k2))) {
        example.unfenced = '(no ```ts block)';
        continue;
      }
      example.line = k2 + 2;
      for (k2++; k2 < end && !FENCE_CLOSE.test(text(k2)); k2++) example.code.push(text(k2));
      k = k2;
    }
    start = end;
  }
  return examples;
}

/** Names an example (or its context) declares or imports itself. */
function declared(code: string): Set<string> {
  const names = new Set<string>();
  for (const [, name] of code.matchAll(
    /\b(?:const|let|var|function|class|interface|type|enum)\s+([\w$]+)/g,
  )) {
    names.add(name as string);
  }
  for (const [, list] of code.matchAll(/\b(?:const|let|var)\s*\{([^}]*)\}/g)) {
    for (const item of (list as string).split(',')) {
      const name = item.split(':').at(-1)?.replace('...', '').split('=')[0]?.trim();
      if (name) names.add(name);
    }
  }
  for (const [, clause] of code.matchAll(/^import\s+(.*?)\s+from\s/gm)) {
    for (const [name] of (clause as string).matchAll(/[\w$]+/g)) names.add(name);
  }
  return names;
}

const publics = publicExports();

/** The prelude an example is read with: imports of what it names from its home, and context. */
function prelude(example: Example): { lines: string[]; wrap: boolean } {
  const home = [...publics].find(
    ([, exports]) => exports.get(example.symbol ?? '') === example.file,
  );
  const [specifier, exports] = home ?? [join(root, example.file), exportsOf(example.file)];
  const context = CONTEXT[example.name] ?? '';
  const code = example.code.join('\n');
  // Any `name:`, not only the member's own: a renamed option must fail, not pass as a label.
  const wrap =
    example.member !== undefined &&
    /^\s*[\w$]+:/.test(example.code.find((line) => line.trim()) ?? '');
  const own = declared(`${code}\n${context}`);
  const names = new Set(
    [...`${code}\n${context}`.matchAll(/[A-Za-z_$][\w$]*/g)].map(([name]) => name),
  );
  if (wrap) names.add(example.symbol as string);
  const imports = [...names].filter((name) => exports.has(name) && !own.has(name)).sort();
  const lines = imports.length > 0 ? [`import { ${imports.join(', ')} } from '${specifier}';`] : [];
  if (context) lines.push(...context.split('\n'));
  if (wrap) lines.push(`const option: Partial<${example.symbol}> = {`);
  return { lines, wrap };
}

const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => join('src', file).replaceAll('\\', '/'))
  .sort();
const examples = files.flatMap(extract);
const checked = examples.filter((example) => example.unfenced === undefined);
/** Errors by example name, as `src/x.ts:LINE: error TS…`. */
const errors = new Map<string, string[]>();
const elsewhere: string[] = [];
let dir: string;

beforeAll(() => {
  dir = scratchDir('oncely-tsdoc-');
  const byFile = new Map<string, { example: Example; offset: number }>();
  checked.forEach((example, index) => {
    const file = `${String(index).padStart(2, '0')}-${example.file.replaceAll('/', '-')}`;
    const { lines, wrap } = prelude(example);
    const text = [...lines, ...example.code, ...(wrap ? ['};'] : []), 'export {};', ''];
    writeFileSync(join(dir, file), text.join('\n'));
    byFile.set(file, { example, offset: lines.length });
  });
  for (const diagnostic of typeCheck(dir, [...byFile.keys()])) {
    const found = byFile.get(diagnostic.file);
    if (!found) {
      elsewhere.push(`${diagnostic.file}(${diagnostic.line}): ${diagnostic.text}`);
      continue;
    }
    const { example, offset } = found;
    const inCode = diagnostic.line > offset && diagnostic.line <= offset + example.code.length;
    const where = inCode
      ? `${example.file}:${example.line + diagnostic.line - offset - 1}`
      : `${example.name} (prelude line ${diagnostic.line})`;
    const list = errors.get(example.name) ?? [];
    list.push(`${where}: ${diagnostic.text}`);
    errors.set(example.name, list);
  }
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the @example blocks of the TSDoc', () => {
  it('finds the examples', () => {
    expect(checked.length).toBeGreaterThan(40);
  });

  it('writes every @example as a ```ts block', () => {
    const unfenced = examples.filter((example) => example.unfenced !== undefined);
    expect(unfenced.map((example) => `${example.name}: ${example.unfenced}`)).toEqual([]);
  });

  it('compiles without errors outside the examples (the sources they import)', () => {
    expect(elsewhere).toEqual([]);
  });

  const names = checked.map((example) => example.name);
  const rows = checked.map((example) => [example.name, example.line] as const);
  compileCases(rows, errors, KNOWN_BROKEN);

  it('lists in KNOWN_BROKEN and CONTEXT only examples that exist', () => {
    const listed = [...KNOWN_BROKEN, ...Object.keys(CONTEXT)];
    expect(listed.filter((name) => !names.includes(name))).toEqual([]);
  });
});

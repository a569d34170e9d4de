import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCases } from './support/compile-cases.ts';
import { root, scratchDir, typeCheck } from './support/type-check.ts';

/**
 * Users copy code from the docs: every ```ts block of these pages must compile against the public
 * API. Each block becomes a module in a temporary folder that imports `oncely`, `oncely/server/…`
 * as a user does; `paths` maps each subpath of package.json's `exports` to its source file, so no
 * build is needed and a renamed option or a missing export fails here. One `tsc` run checks them
 * all (the native compiler: about a second).
 *
 * Two markers, an HTML comment on the line right before the fence, invisible on the rendered page:
 * - `<!-- snippet: context … -->` holds TypeScript prepended to the block: the `declare`s of what
 *   the reader brings (their `order`, their `charge()`), so the block compiles as shown.
 * - `<!-- snippet: fragment: <why> -->` skips a block that is deliberately partial. Keep them rare.
 * A block for contributors may import the repository's tests as `#test/…` in its context.
 */
const DOCS = [
  'README.md',
  'docs/README.md',
  'docs/client.md',
  'docs/server.md',
  'docs/adapters.md',
  'docs/check.md',
  'docs/key-design.md',
  'docs/getting-started-browser.md',
  'docs/getting-started-node.md',
  'docs/diagrams.md',
  'docs/journals.md',
  'docs/stores.md',
  'docs/operations.md',
];

/** Opt-outs allowed in all the docs together: a fragment is code the reader cannot check. */
const MAX_FRAGMENTS = 3;

/**
 * Blocks known not to compile, in pages being rewritten by others: expected to fail, so the list
 * must shrink as they are fixed (a block that compiles again fails here until it is removed).
 */
const KNOWN_BROKEN = new Set<string>([]);

interface Snippet {
  /** `docs/client.md#2`: the page's second ts block (stable while lines above it move). */
  name: string;
  doc: string;
  line: number;
  context: string[];
  /** Line of the context's first line in the doc. */
  contextLine: number;
  code: string[];
  fragment: string | undefined;
}

const FENCE_OPEN = /^```(ts|typescript)\s*$/;
const FENCE_CLOSE = /^```\s*$/;
const FRAGMENT = /^<!-- snippet: fragment: (.+\S) -->$/;
const CONTEXT_OPEN = '<!-- snippet: context';

function extract(doc: string): Snippet[] {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = lines[i] as string;
    if (!fence.startsWith('```')) continue;
    let end = i + 1;
    while (end < lines.length && !FENCE_CLOSE.test(lines[end] as string)) end++;
    if (FENCE_OPEN.test(fence)) {
      const before = (lines[i - 1] ?? '').trim();
      let context: string[] = [];
      let contextLine = 0;
      if (before.startsWith('<!-- snippet') && !FRAGMENT.test(before)) {
        throw new Error(`${doc}:${i}: expected '<!-- snippet: fragment: <why> -->', got ${before}`);
      }
      if (before === '-->') {
        let start = i - 2;
        while (start >= 0 && !/^(```|<!--)/.test(lines[start] as string)) start--;
        if (!(lines[start] ?? '').startsWith(CONTEXT_OPEN)) {
          throw new Error(`${doc}:${i}: a comment before a ts block that is not '${CONTEXT_OPEN}'`);
        }
        context = lines.slice(start + 1, i - 1);
        contextLine = start + 2;
      }
      snippets.push({
        name: `${doc}#${snippets.length + 1}`,
        doc,
        line: i + 2,
        context,
        contextLine,
        code: lines.slice(i + 1, end),
        fragment: FRAGMENT.exec(before)?.[1],
      });
    }
    i = end;
  }
  return snippets;
}

const snippets = DOCS.flatMap(extract);
const checked = snippets.filter((snippet) => snippet.fragment === undefined);
/** Errors by snippet name, as `docs/x.md:LINE: error TS…`. */
const errors = new Map<string, string[]>();
const elsewhere: string[] = [];
let dir: string;

beforeAll(() => {
  dir = scratchDir('oncely-snippets-');
  const byFile = new Map<string, Snippet>();
  checked.forEach((snippet, index) => {
    const file = `${String(index).padStart(2, '0')}-${snippet.doc.replaceAll('/', '-')}.ts`;
    // A module of its own (top-level await, no clash between blocks), lines kept as in the doc.
    const text = [...snippet.context, ...snippet.code, 'export {};', ''].join('\n');
    writeFileSync(join(dir, file), text);
    byFile.set(file, snippet);
  });
  const diagnostics = typeCheck(dir, [...byFile.keys()]);
  for (const diagnostic of diagnostics) {
    // tsc runs in `dir`: a block's file is named as written, anything else by a path.
    const snippet = byFile.get(diagnostic.file);
    if (!snippet) {
      elsewhere.push(`${diagnostic.file}(${diagnostic.line}): ${diagnostic.text}`);
      continue;
    }
    const inContext = diagnostic.line <= snippet.context.length;
    const line = inContext
      ? snippet.contextLine + diagnostic.line - 1
      : snippet.line + diagnostic.line - 1 - snippet.context.length;
    const list = errors.get(snippet.name) ?? [];
    list.push(`${snippet.doc}:${line}: ${diagnostic.text}`);
    errors.set(snippet.name, list);
  }
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the code blocks of the docs', () => {
  it('finds the blocks', () => {
    expect(checked.length).toBeGreaterThan(30);
  });

  it('opts out of few blocks, each with a reason', () => {
    const fragments = snippets.filter((snippet) => snippet.fragment !== undefined);
    expect(fragments.length).toBeLessThanOrEqual(MAX_FRAGMENTS);
  });

  it('compiles without errors outside the blocks (the sources they import)', () => {
    expect(elsewhere).toEqual([]);
  });

  const names = checked.map((snippet) => snippet.name);
  const rows = checked.map((snippet) => [snippet.name, snippet.line] as const);
  compileCases(rows, errors, KNOWN_BROKEN);

  it('lists in KNOWN_BROKEN only blocks that exist', () => {
    expect([...KNOWN_BROKEN].filter((name) => !names.includes(name))).toEqual([]);
  });
});

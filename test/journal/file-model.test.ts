import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileJournal } from '../../src/journal/file.ts';
import type { Journal } from '../../src/journal/journal.ts';
import { makeEntry } from './contract.ts';

let directory: string;
let count = 0;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'oncely-journal-model-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

type Op =
  | { kind: 'put'; id: string; attempts: number }
  | { kind: 'update'; id: string; attempts: number }
  | { kind: 'delete'; id: string };

const id = fc.constantFrom('a', 'b', 'c', 'd');
const attempts = fc.integer({ min: 0, max: 1000 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), id, attempts }),
  fc.record({ kind: fc.constant('update' as const), id, attempts }),
  fc.record({ kind: fc.constant('delete' as const), id }),
);

type State = Record<string, number>;

function apply(state: State, step: Op): State {
  const next = { ...state };
  if (step.kind === 'put') next[step.id] = step.attempts;
  else if (step.kind === 'update' && step.id in next) next[step.id] = step.attempts;
  else if (step.kind === 'delete') delete next[step.id];
  return next;
}

function send(journal: Journal, step: Op): Promise<unknown> {
  if (step.kind === 'put') {
    return journal.put(makeEntry({ id: step.id, attempts: step.attempts, createdAt: 1 }));
  }
  if (step.kind === 'update') return journal.update(step.id, { attempts: step.attempts });
  return journal.delete(step.id);
}

async function stateOf(path: string): Promise<State> {
  // A cut file is reported: not through a console warning in every run.
  const journal = fileJournal(path, { onRecover: () => {} });
  const state: State = {};
  for (const entry of await journal.list()) state[entry.id] = entry.attempts;
  await journal.close();
  return state;
}

describe('fileJournal against a model', () => {
  it('reopens to the state of its writes in call order, even when issued all at once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const path = join(directory, `model-${++count}.journal`);
        const journal = fileJournal(path);
        await Promise.all(ops.map((step) => send(journal, step)));
        await journal.close();
        expect(await stateOf(path)).toEqual(ops.reduce(apply, {}));
      }),
      { numRuns: 25 },
    );
  });

  it('cut at any byte, reopens to the state after some prefix of its writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (ops, where) => {
          const path = join(directory, `model-${++count}.journal`);
          const journal = fileJournal(path);
          await Promise.all(ops.map((step) => send(journal, step)));
          await journal.close();
          const data = await readFile(path);
          await writeFile(path, data.subarray(0, Math.floor(where * data.length)));
          const prefixes: State[] = [{}];
          for (const step of ops) prefixes.push(apply(prefixes.at(-1) as State, step));
          expect(prefixes).toContainEqual(await stateOf(path));
        },
      ),
      { numRuns: 40 },
    );
  });
});

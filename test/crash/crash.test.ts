import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/journal/journal.ts';
import { fileJournal } from '../../src/node.ts';
import { type LedgerServer, startLedgerServer } from './ledger-server.ts';
import { childScript, spawnChild as spawn } from './spawn-child.ts';

let server: LedgerServer;
let dir: string;
let runs = 0;
let script: string;
const spawnChild = (env: Record<string, string>) => spawn(script, env);

beforeAll(async () => {
  server = await startLedgerServer();
  dir = await mkdtemp(join(tmpdir(), 'oncely-crash-'));
  script = await childScript(dir);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh journal path and fresh operation ids for one run. */
function setup(count: number) {
  runs++;
  const journal = join(dir, `run-${runs}.journal`);
  const ops = Array.from({ length: count }, (_, i) => `r${runs}-op${i}`);
  const env = { JOURNAL: journal, BASE: server.origin, OPS: JSON.stringify(ops) };
  return { journal, ops, env };
}

/** What the journal file holds, read as an operator would (read-only, beside no live writer). */
async function journaled(path: string): Promise<JournalEntry[]> {
  const journal = fileJournal(path, { readOnly: true });
  try {
    return await journal.list();
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code === 'ENOENT') return [];
    throw error;
  } finally {
    await journal.close().catch(() => {});
  }
}

/** Restarts: a second process registers the same definition and calls resume(). */
async function restart(env: Record<string, string>) {
  const child = spawnChild({ ...env, MODE: 'resume' });
  const { summary } = await child.next((m) => 'summary' in m);
  const { code } = await child.exited;
  expect(code, child.stderr()).toBe(0);
  return summary as { resumed: number; succeeded: number; pending: number; failed: number };
}

const opIdOf = (entry: JournalEntry) => (entry.input as { opId: string }).opId;
const keysOf = (opId: string) =>
  server.attempts.filter((attempt) => attempt.opId === opId).map((attempt) => attempt.key);

/**
 * The invariants of issue 3: every operation that was journaled, or that reached the server, took
 * effect exactly once, and all its attempts carried one key (the journaled one, when known).
 * Operations that were never journaled never reached the server.
 */
function expectExactlyOnce(ops: string[], journaledBeforeRestart: JournalEntry[]) {
  const journaledKeys = new Map(journaledBeforeRestart.map((e) => [opIdOf(e), e.key]));
  for (const opId of ops) {
    const keys = keysOf(opId);
    const effects = server.effects.get(opId) ?? 0;
    if (keys.length === 0 && !journaledKeys.has(opId)) {
      expect(effects, opId).toBe(0);
      continue;
    }
    expect(effects, `effects of ${opId}`).toBe(1);
    expect(new Set(keys).size, `keys of ${opId}`).toBe(1);
    const key = journaledKeys.get(opId);
    if (key !== undefined) expect(keys[0]).toBe(key);
  }
}

describe('a client process killed with SIGKILL, then restarted with resume()', () => {
  it('before the journal write: nothing was journaled, nothing is sent', async () => {
    const { env, ops, journal } = setup(1);
    const child = spawnChild({ ...env, MODE: 'run', PAUSE: 'before-put' });
    await child.next((m) => m.phase === 'before-put');
    await child.kill();
    const left = await journaled(journal);
    expect(left).toEqual([]);
    expect((await restart(env)).resumed).toBe(0);
    expect(keysOf(ops[0] ?? '')).toEqual([]);
    expectExactlyOnce(ops, left);
  });

  it('after the journal write, before any attempt: resume sends it once with the journaled key', async () => {
    const { env, ops, journal } = setup(1);
    const child = spawnChild({ ...env, MODE: 'run', PAUSE: 'after-put' });
    await child.next((m) => m.phase === 'after-put');
    await child.kill();
    const left = await journaled(journal);
    expect(left.map((e) => [opIdOf(e), e.state])).toEqual([[ops[0], 'running']]);
    expect(keysOf(ops[0] ?? '')).toEqual([]);
    expect(await restart(env)).toMatchObject({ resumed: 1, succeeded: 1 });
    expectExactlyOnce(ops, left);
    expect(keysOf(ops[0] ?? '')).toEqual([left[0]?.key]);
    expect(await journaled(journal)).toEqual([]);
  });

  it('while the request is in flight: the resumed attempt gets the first one answer, one effect', async () => {
    const { env, ops, journal } = setup(1);
    const opId = ops[0] ?? '';
    const held = server.hold(opId);
    const child = spawnChild({ ...env, MODE: 'run' });
    await held.entered;
    await child.kill();
    const left = await journaled(journal);
    expect(left.map(opIdOf)).toEqual([opId]);
    const restarted = restart(env);
    // The resumed attempt reaches the server while the dead process's request is still running.
    while (keysOf(opId).length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(server.effects.get(opId)).toBeUndefined();
    held.release();
    expect(await restarted).toMatchObject({ resumed: 1, succeeded: 1 });
    expectExactlyOnce(ops, left);
    expect(keysOf(opId)).toHaveLength(2);
    expect(await journaled(journal)).toEqual([]);
  });

  it('after the server answered, before the record was removed: resume gets the stored answer', async () => {
    const { env, ops, journal } = setup(1);
    const child = spawnChild({ ...env, MODE: 'run', PAUSE: 'before-delete' });
    await child.next((m) => m.phase === 'before-delete');
    await child.kill();
    const opId = ops[0] ?? '';
    expect(server.effects.get(opId)).toBe(1);
    const left = await journaled(journal);
    expect(left.map(opIdOf)).toEqual([opId]);
    expect(await restart(env)).toMatchObject({ resumed: 1, succeeded: 1 });
    expectExactlyOnce(ops, left);
    expect(keysOf(opId)).toHaveLength(2);
    expect(await journaled(journal)).toEqual([]);
  });

  it('at random points, many times (the resume too): every journaled operation takes effect exactly once, with one key', async () => {
    const rounds = Number(process.env.ONCELY_CRASH_ROUNDS ?? 20);
    const seen = {
      journaled: 0,
      inFlightOrDone: 0,
      settledBeforeKill: 0,
      journaledRounds: 0,
      resumeKilled: 0,
      resumed: 0,
    };
    // The server holds each request up to 300 ms, so an operation lives that long even on a quiet
    // machine (where the rest of its life takes a few ms) and random kills land in every phase.
    server.jitterMs = 300;
    try {
      for (let round = 0; round < rounds; round++) {
        const { env, ops, journal } = setup(3);
        const child = spawnChild({ ...env, MODE: 'run' });
        await child.next((m) => m.ready === true);
        // An operation's life here is up to 0.3 s from 'ready' on a quiet machine and up to ~1 s on a
        // busy one (journal write, send, held answer, removal); a kill anywhere in it, or after it,
        // is fair.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 600));
        await child.kill();
        const left = await journaled(journal);
        seen.journaled += left.length;
        seen.inFlightOrDone += ops.filter((opId) => keysOf(opId).length > 0).length;
        seen.settledBeforeKill += child.messages.filter((m) => 'settled' in (m as object)).length;
        if (left.length > 0 && seen.journaledRounds++ % 2 === 1) {
          // A second crash, during the resume itself: a third process must still finish the job.
          const resuming = spawnChild({ ...env, MODE: 'resume' });
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 500));
          await resuming.kill();
          seen.resumeKilled++;
        }
        const stillLeft = await journaled(journal);
        const summary = await restart(env);
        seen.resumed += summary.resumed;
        expect(summary.resumed).toBe(stillLeft.length);
        expectExactlyOnce(ops, left);
        expect(await journaled(journal)).toEqual([]);
      }
    } finally {
      server.jitterMs = 0;
    }
    console.log(`crash rounds: ${rounds}, ${JSON.stringify(seen)}`);
    // The random kills must have hit operations in every phase, or the test proves little.
    expect(seen.journaled).toBeGreaterThan(0);
    expect(seen.inFlightOrDone).toBeGreaterThan(0);
  }, 60_000);
});

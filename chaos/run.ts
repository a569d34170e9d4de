/**
 * One chaos run against one store: server processes behind the fault-injecting proxy, client
 * processes that are killed and resumed, and at the end the ledger checked operation by operation.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emptyFaultCounts, type FaultKind, seededRandom } from './faults.ts';
import {
  type ChaosStore,
  dropLedger,
  type LedgerTarget,
  prepareLedger,
  readLedger,
} from './ledger.ts';
import type { OperationSpec, WorkerMessage, WorkerStart } from './messages.ts';
import { startChaosProxy } from './proxy.ts';
import { startFleet } from './servers.ts';

const WORKER = fileURLToPath(new URL('./client-worker.ts', import.meta.url));

export interface ChaosOptions {
  store: ChaosStore;
  /** The Redis or PostgreSQL URL; SQLite runs in a temporary directory. */
  url?: string;
  /** Logical operations. */
  ops: number;
  /** Probability that an attempt meets a proxy fault, and that a client process is killed. */
  faultRate: number;
  /** Operations in flight at once, over all client processes. */
  concurrency: number;
  seed: number;
  /** Client processes running at once. @default 4 */
  workers?: number;
  /** Operations per client process (a killed one is resumed by the next). @default ops / 20, 25 to 500 */
  batchSize?: number;
  /**
   * The server helper: the web-standard `idempotency()` on node:http, which lets the server log
   * every attempt before the helper sees it, or the `oncely/server/node` adapter.
   * @default 'web'
   */
  adapter?: 'web' | 'node';
  /**
   * `false` runs the control: the same handler, faults and kills without the server helper. Its
   * duplicates show what the helper prevents, and that this harness sees them when they happen.
   * @default true
   */
  guard?: boolean;
  /** Lease of the server helper: a killed server's key is taken over after it. @default 1_000 */
  leaseMs?: number;
  /** Attempt timeout of the clients; the proxy's hang outlasts it. @default 1_000 */
  timeoutMs?: number;
  /** Shortest time between a server restart and the next kill, in ms. @default 4_000 */
  serverKillSpacingMs?: number;
  /**
   * Which client processes are killed: the first batch's first process, midway, and then each at
   * `faultRate` (a resumed one too, up to 3 per batch); or only that first one (the demo's one crash).
   * @default 'random'
   */
  clientKills?: 'random' | 'first';
  /** Relative weights of the proxy faults. */
  weights?: Partial<Record<FaultKind, number>>;
  /** Called as operations finish. */
  onProgress?: (progress: ChaosProgress) => void;
  /** Gives up (and fails) after this long. @default 600_000 */
  deadlineMs?: number;
}

export interface ChaosProgress {
  done: number;
  ops: number;
  retries: number;
  replays: number;
  faults: number;
}

export interface ChaosResult {
  store: ChaosStore;
  servers: number;
  ops: number;
  attempts: number;
  faults: Record<FaultKind, number>;
  effects: number;
  /** Operations with more than one effect on the ledger. */
  duplicates: number;
  /** Operations with no effect once every client finished and resumed. */
  lost: number;
  /** Operations whose attempts did not all carry one key. */
  changedKeys: number;
  retries: number;
  replays: number;
  /** 409 answers seen (concurrent duplicates, retries during a lease). */
  conflicts: number;
  /** Operations finished by `resume()` in a fresh process after a client kill. */
  resumed: number;
  /** Client processes killed while resuming a killed predecessor's operations. */
  resumesKilled: number;
  serverRestarts: number;
  /** Keys taken over by a retry after their holder's lease lapsed (a killed server). */
  takeovers: number;
  /** Handlers that outlived their lease while alive (should stay 0). */
  leasesLost: number;
  durationMs: number;
  /** Answers the proxy forwarded, by status (`gone`: the client had hung up). */
  answers: Record<string, number>;
  /** Attempts answered 503 by the proxy while no server was reachable (restarting). */
  noServer: number;
}

/** Runs the chaos suite once against `options.store`. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const random = seededRandom(options.seed);
  const dir = await mkdtemp(join(tmpdir(), 'oncely-chaos-'));
  const namespace = `chaos_${options.store}_${started.toString(36)}_${Math.floor(random() * 1e6)}`;
  const target: LedgerTarget = {
    store: options.store,
    target: options.store === 'sqlite' ? join(dir, 'store.db') : requireUrl(options),
    namespace,
  };
  await prepareLedger(target);
  const fleet = await startFleet({
    ...target,
    size: options.store === 'sqlite' ? 1 : 2,
    leaseMs: options.leaseMs ?? 1_000,
    adapter: options.adapter ?? 'web',
    guard: options.guard ?? true,
    attemptsPrefix: join(dir, 'attempts'),
  });
  let killsInjected = 0;
  let killsMissed = 0;
  const spacing = options.serverKillSpacingMs ?? 4_000;
  const proxy = await startChaosProxy({
    upstreams: fleet.ports,
    faultRate: options.faultRate,
    random,
    weights: options.weights,
    mayKillServer: () =>
      !fleet.restarting &&
      killsInjected - killsMissed <= fleet.restarts &&
      Date.now() - fleet.lastRestartAt >= spacing,
    onServerKill: () => {
      killsInjected++;
    },
    onServerKillMissed: () => {
      killsMissed++;
    },
  });

  const live = new Set<ChildProcess>();
  let abort: Error | undefined;
  function stop(reason: Error) {
    abort = reason;
    for (const child of live) child.kill('SIGKILL');
  }

  const faults = emptyFaultCounts();
  let resumed = 0;
  let resumesKilled = 0;
  const done = new Set<string>();
  const sent = new Set<string>();
  const report = () =>
    options.onProgress?.({
      done: done.size,
      ops: options.ops,
      retries: Math.max(0, proxy.stats.attempts - sent.size),
      replays: proxy.stats.replays,
      faults: Object.values(proxy.stats.faults).reduce((a, b) => a + b, 0) + faults['client-kill'],
    });
  const ticker = setInterval(() => {
    report();
    if (fleet.failure !== undefined && abort === undefined) stop(fleet.failure);
  }, 250);

  const specs: OperationSpec[] = Array.from({ length: options.ops }, (_, n) => ({
    op: `op-${n}`,
    derived: n % 2 === 0,
  }));
  // A client process takes seconds to start on a busy machine: few, large batches.
  const batchSize = options.batchSize ?? Math.min(500, Math.max(25, Math.ceil(options.ops / 20)));
  const batches: OperationSpec[][] = [];
  for (let n = 0; n < specs.length; n += batchSize) batches.push(specs.slice(n, n + batchSize));
  const workers = Math.min(options.workers ?? 4, batches.length);
  const perWorker = Math.max(1, Math.floor(options.concurrency / workers));

  // One batch: a client process, killed at a random point with probability faultRate; then a
  // fresh process on the same journal resumes and finishes it.
  async function runBatch(batch: OperationSpec[], index: number) {
    const start: WorkerStart = {
      baseUrl: `http://127.0.0.1:${proxy.port}/`,
      journalPath: join(dir, `client-${index}.journal`),
      operations: batch,
      concurrency: perWorker,
      timeoutMs: options.timeoutMs ?? 1_000,
    };
    for (let life = 0; ; life++) {
      // Each process of the batch may be killed in turn (a resume cut short by a crash), up to 3.
      // The first batch's first process always dies midway, so every run resumes at least once.
      const first = index === 0 && life === 0 && options.faultRate > 0;
      const kill =
        first || (options.clientKills !== 'first' && life < 3 && random() < options.faultRate);
      // A point in the process's own work (its resume, then its new operations), known once it
      // says how much it has: drawn over the batch, a resuming process was never killed mid-resume.
      const killAt = !kill ? 0 : first ? 0.5 : 1 - random();
      const outcome = await runWorker(
        start,
        { killAt, delayMs: random() * 20, midway: first },
        live,
        {
          onSent: (op) => sent.add(op),
          onDone: (op, wasResumed) => {
            if (!done.has(op) && wasResumed && life > 0) resumed++;
            done.add(op);
          },
        },
      );
      if (outcome.killed) {
        faults['client-kill']++;
        if (outcome.killedResuming) resumesKilled++;
        continue;
      }
      if (abort !== undefined) throw abort;
      if (!outcome.ended) throw new Error(`client process for batch ${index} failed`);
      return;
    }
  }

  let nextBatch = 0;
  // Past the deadline, or when a server cannot come back, every client process is killed so the
  // run fails instead of hanging.
  const deadline = setTimeout(
    () => stop(new Error(`chaos run on ${options.store} passed its deadline`)),
    options.deadlineMs ?? 600_000,
  );
  try {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (nextBatch < batches.length && abort === undefined) {
          const index = nextBatch++;
          await runBatch(batches[index] as OperationSpec[], index);
        }
      }),
    );
  } finally {
    clearTimeout(deadline);
    clearInterval(ticker);
    report();
    await proxy.close();
    await fleet.stop();
  }

  if (abort !== undefined) throw abort;
  const effects = await readLedger(target);
  await dropLedger(target);
  const keys = new Map<string, Set<string>>();
  let takeovers = 0;
  let leasesLost = 0;
  for (const [op, seen] of proxy.stats.keys) keys.set(op, new Set(seen));
  for (const log of fleet.attemptLogs) {
    const text = await readFile(log, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const [op, key] = line.split('\t');
      if (!op || key === undefined) continue;
      if (op === '#takeover') takeovers++;
      if (op === '#lost') leasesLost++;
      if (op.startsWith('#')) continue;
      const set = keys.get(op) ?? new Set<string>();
      set.add(key);
      keys.set(op, set);
    }
  }
  let duplicates = 0;
  let lost = 0;
  let total = 0;
  for (const spec of specs) {
    const count = effects.get(spec.op) ?? 0;
    total += count;
    if (count > 1) duplicates++;
    if (count === 0) lost++;
  }
  const changedKeys = [...keys.values()].filter((set) => set.size > 1).length;
  for (const [kind, count] of Object.entries(proxy.stats.faults))
    faults[kind as FaultKind] += count;
  await rm(dir, { recursive: true, force: true });
  return {
    store: options.store,
    servers: fleet.ports.length,
    ops: options.ops,
    attempts: proxy.stats.attempts,
    faults,
    effects: total,
    duplicates,
    lost,
    changedKeys,
    // Every attempt after an operation's first is a retry, in the session or after a resume.
    retries: proxy.stats.attempts - options.ops,
    replays: proxy.stats.replays,
    conflicts: proxy.stats.conflicts,
    resumed,
    resumesKilled,
    serverRestarts: fleet.restarts,
    takeovers,
    leasesLost,
    durationMs: Date.now() - started,
    answers: proxy.stats.answers,
    noServer: proxy.stats.noServer,
  };
}

function requireUrl(options: ChaosOptions): string {
  if (!options.url) throw new Error(`the ${options.store} store needs a URL`);
  return options.url;
}

interface WorkerOutcome {
  killed: boolean;
  /** Killed before its first new operation, with a predecessor's operations to resume. */
  killedResuming: boolean;
  /** The process reported its whole batch done. */
  ended: boolean;
}

/**
 * Which step of a client process's work a kill drawn at `killAt` (in (0, 1]) falls on: one of the
 * `resumable` operations it resumes first (`duringResume`), or its `afterSent`th new operation.
 */
export function killPoint(
  killAt: number,
  resumable: number,
  queued: number,
): { duringResume: true } | { duringResume: false; afterSent: number } | undefined {
  const total = resumable + queued;
  if (killAt <= 0 || total === 0) return undefined;
  const step = Math.min(total, Math.max(1, Math.ceil(killAt * total)));
  return step <= resumable
    ? { duringResume: true }
    : { duringResume: false, afterSent: step - resumable };
}

/**
 * Runs one client process; with `kill.killAt` > 0 it is SIGKILLed at that point of its work (see
 * {@link killPoint}), `kill.delayMs` after the step starts. `midway`: not before an operation
 * finished, so the ones in flight are journaled: the batch's operations all go out at once when
 * it is no larger than the process's concurrency, and a kill there found an empty journal.
 */
function runWorker(
  start: WorkerStart,
  kill: { killAt: number; delayMs: number; midway: boolean },
  live: Set<ChildProcess>,
  events: { onSent: (op: string) => void; onDone: (op: string, resumed: boolean) => void },
): Promise<WorkerOutcome> {
  return new Promise((resolve) => {
    const child: ChildProcess = fork(WORKER, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    const outcome: WorkerOutcome = {
      killed: false,
      killedResuming: false,
      ended: false,
    };
    let sent = 0;
    let finished = 0;
    let killAfter = 0;
    let resuming = false;
    let due = false;
    // Let the step get under way (journaled, maybe sent) before the kill.
    const killSoon = () => {
      if (!due || (kill.midway && finished === 0)) return;
      due = false;
      setTimeout(() => {
        if (outcome.ended || child.exitCode !== null) return;
        outcome.killed = true;
        outcome.killedResuming = resuming && sent === 0;
        child.kill('SIGKILL');
      }, kill.delayMs);
    };
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        resuming = message.resumable > 0;
        const point = killPoint(kill.killAt, message.resumable, message.queued);
        if (point?.duringResume) {
          due = true;
          killSoon();
        } else if (point !== undefined) killAfter = point.afterSent;
      } else if (message.type === 'sent') {
        sent++;
        events.onSent(message.op);
        if (killAfter > 0 && sent === killAfter) {
          due = true;
          killSoon();
        }
      } else if (message.type === 'done') {
        finished++;
        events.onDone(message.op, message.resumed);
        killSoon();
      } else if (message.type === 'end') {
        outcome.ended = true;
      }
    });
    child.once('exit', () => {
      live.delete(child);
      resolve(outcome);
    });
    child.send(start);
  });
}

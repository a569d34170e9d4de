import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Requests per second, and this process's CPU time per request in microseconds. */
export interface Rate {
  readonly perSecond: number;
  readonly cpuMicros: number;
}

/** Runs `total` calls of `task` with at most `concurrency` in flight. */
export async function throughput(
  task: () => Promise<void>,
  total: number,
  concurrency: number,
): Promise<Rate> {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await task();
    }
  };
  const cpu = process.cpuUsage();
  const begin = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - begin;
  const used = process.cpuUsage(cpu);
  return { perSecond: (total / elapsed) * 1000, cpuMicros: (used.user + used.system) / total };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** A markdown table from a header row and rows. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// V8's gc() without starting Node with --expose-gc: a context created after the flag is set has it.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Collects garbage and lets pending finalizers and timers run, so that the next measurement starts
 * with no debt from the one before (an AbortSignal given to fetch leaves a finalizer behind; a case
 * that allocates much leaves a major collection that would land in whatever case runs next).
 */
export async function settle(): Promise<void> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setImmediate(resolve));
}

/** A seeded shuffle (mulberry32 and Fisher-Yates): the same order for the same seed and round. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

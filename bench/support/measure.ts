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

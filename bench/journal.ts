/**
 * The journals' cost per durable operation (issue 3): each operation is a `put` then a `delete`, as
 * an operation's lifecycle writes them, through `fileJournal` (fdatasync, group commit) and
 * `memoryJournal`, at concurrency 1 and 64. Each case runs for a fixed time; rounds repeat with the
 * cases in rotating order; figures are medians of the rounds, and each ratio the median of the
 * per-round ratios to `memoryJournal` at the same concurrency.
 */

import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileJournal } from '../src/journal/file.ts';
import { ENTRY_STATE, JOURNAL_FORMAT_VERSION, type Journal } from '../src/journal/journal.ts';
import { memoryJournal } from '../src/journal/memory.ts';
import { serializeRequest } from '../src/journal/serialize.ts';
import { barChart } from './support/chart.ts';
import { median, table } from './support/measure.ts';

const CASE_MS = Number(process.env.BENCH_JOURNAL_MS ?? 1_500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = [1, 64] as const;

const request = serializeRequest({
  url: 'https://api.example/charges',
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer never-written' },
  json: { amount: 1200, currency: 'EUR', note: 'bench' },
});

interface Sample {
  opsPerSecond: number;
  fsyncsPerOp: number;
}

async function measure(
  journal: Journal,
  concurrency: number,
  fsyncs: () => number,
): Promise<Sample> {
  let next = 0;
  const deadline = performance.now() + CASE_MS;
  const before = fsyncs();
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const id = `op-${next++}`;
      const now = Date.now();
      await journal.put({
        version: JOURNAL_FORMAT_VERSION,
        id,
        name: 'charge',
        key: id,
        request,
        input: { amount: 1200 },
        attempts: 0,
        state: ENTRY_STATE.pending,
        createdAt: now,
        updatedAt: now,
      });
      await journal.delete(id);
    }
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - begin) / 1000;
  return { opsPerSecond: next / seconds, fsyncsPerOp: (fsyncs() - before) / next };
}

export async function run(): Promise<{ title: string; markdown: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'oncely-bench-journal-'));
  const filesystem = await describeFilesystem(directory);
  const results = new Map<string, Sample[]>();
  const ratios = new Map<string, number[]>();
  let compactions = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const concurrency of CONCURRENCY) {
        const order = round % 2 === 0 ? ['memory', 'file'] : ['file', 'memory'];
        const samples: Record<string, Sample> = {};
        for (const kind of order) {
          if (kind === 'memory') {
            const journal = memoryJournal();
            samples.memory = await measure(journal, concurrency, () => 0);
            await journal.close();
          } else {
            const journal = fileJournal(join(directory, `r${round}-c${concurrency}.journal`));
            await journal.open();
            samples.file = await measure(journal, concurrency, () => journal.stats().fsyncs);
            compactions += journal.stats().compactions;
            await journal.close();
          }
        }
        for (const [kind, sample] of Object.entries(samples)) {
          const name = `${kind}@${concurrency}`;
          results.set(name, [...(results.get(name) ?? []), sample]);
        }
        const ratio = (samples.file?.opsPerSecond ?? 0) / (samples.memory?.opsPerSecond ?? 1);
        ratios.set(`${concurrency}`, [...(ratios.get(`${concurrency}`) ?? []), ratio]);
      }
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  for (const concurrency of CONCURRENCY) {
    for (const kind of ['memory', 'file']) {
      const samples = results.get(`${kind}@${concurrency}`) ?? [];
      const ops = median(samples.map((s) => s.opsPerSecond));
      const ratio = kind === 'memory' ? 1 : median(ratios.get(`${concurrency}`) ?? []);
      const fsyncs = kind === 'memory' ? '0' : median(samples.map((s) => s.fsyncsPerOp)).toFixed(3);
      rows.push([
        `${kind}Journal`,
        String(concurrency),
        Math.round(ops).toLocaleString('en-US'),
        kind === 'memory' ? '1' : ratio < 0.01 ? ratio.toExponential(2) : ratio.toFixed(3),
        fsyncs,
      ]);
    }
  }
  const markdown = [
    `Each operation is a \`put\` then a \`delete\` (its journal lifecycle), so without group commit it would cost 2 fsyncs. ${ROUNDS} rounds of ${CASE_MS} ms per case, cases in rotating order; medians of the rounds. Ratios are to \`memoryJournal\` at the same concurrency, in the same round. Journal files on ${filesystem}; fsyncs/operation counts every fsync the journal made, including those of the ${compactions} compaction(s) that ran during the file cases.`,
    '',
    table(['journal', 'concurrency', 'operations/s', 'ratio to memory', 'fsyncs/operation'], rows),
    '',
    barChart(
      'Operations per second relative to memoryJournal (higher is better)',
      CONCURRENCY.map((concurrency) => ({
        label: `fileJournal, concurrency ${concurrency}`,
        value: median(ratios.get(`${concurrency}`) ?? []),
      })),
    ),
    '',
    'At concurrency 64 the file journal shares one `fdatasync` among every write that arrived while the previous one ran (group commit), which is what keeps a burst of operations from costing one disk flush each.',
  ].join('\n');
  return { title: 'Journals: fileJournal against memoryJournal', markdown };
}

async function describeFilesystem(directory: string): Promise<string> {
  const { type } = await statfs(directory);
  const names: Record<number, string> = {
    61267: 'ext4',
    1481003842: 'xfs',
    16914836: 'tmpfs',
    2435016766: 'btrfs',
  };
  return `${names[type] ?? `filesystem type 0x${type.toString(16)}`} (${tmpdir()})`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { markdown } = await run();
  console.log(markdown);
}

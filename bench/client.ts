/**
 * The client's cost per request (issue 2): plain fetch, bare ky and oncely's `client.post` with a
 * generated key and no journal, on a loopback server in a separate process, measured in the same
 * run. Each case runs in a worker thread of its own (bench/support/client-worker.ts), as an app
 * calls one HTTP client: in one isolate the cases' different argument shapes made fetch's inline
 * caches polymorphic, which slowed them unevenly (oncely measured 6 % over the same work by hand
 * in one isolate, on par in its own). The requests of each case are split into rounds that
 * interleave the cases in a new order each round; each figure is the median over rounds, each
 * ratio the median of per-round ratios to plain fetch. The client process's CPU time per request
 * is reported too: on a shared machine it is steadier than throughput.
 */

import { Worker } from 'node:worker_threads';
import { barChart } from './support/chart.ts';
import { startChildServer } from './support/child-server.ts';
import { CASE_NAMES, type CaseName, PAYLOAD } from './support/client-cases.ts';
import { median, type Rate, shuffled, table } from './support/measure.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
// Short rounds, so that each per-round ratio compares cases measured within a second or so of
// each other: on a shared machine, load comes in bursts. Many of them: on a 2-core VM one round's
// ratio swings by 10-20 %, and the median of 20 still moved by 0.05x between runs.
const ROUNDS = Number(process.env.BENCH_CLIENT_ROUNDS ?? 80);
const PER_ROUND = Math.ceil(REQUESTS / ROUNDS);
const WARMUP = 300;
const CONCURRENCY = [1, 32] as const;
const TARGET = 1.1;

const LABELS: Record<string, string> = {
  fetch: 'plain `fetch`',
  fetchKey: 'plain `fetch` + a key header (by hand)',
  fetchKeyTimeout: 'plain `fetch` + a key header + a timeout signal (by hand)',
  ky: 'ky `ky.post`',
  oncely: 'oncely `client.post` (generated key)',
  oncelyNoTimeout: 'oncely `client.post`, no timeouts (`timeout: false, totalTimeout: false`)',
};

export async function run(): Promise<{ title: string; markdown: string }> {
  const bars: Array<{ label: string; value: number }> = [];
  const server = await startChildServer();
  const url = `${server.url}/charges`;
  const workers = Object.fromEntries(
    CASE_NAMES.map((name) => [name, new CaseWorker(name, url)]),
  ) as Record<CaseName, CaseWorker>;
  const cases: Record<string, (total: number, concurrency: number) => Promise<Rate>> =
    Object.fromEntries(
      CASE_NAMES.map((name) => [
        name,
        (total: number, concurrency: number) => workers[name].run(total, concurrency),
      ]),
    );
  const names = Object.keys(cases);
  const rows: string[][] = [];
  const verdicts: string[] = [];
  try {
    for (const concurrency of CONCURRENCY) {
      const rates: Record<string, Rate[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (const name of names) await cases[name]?.(WARMUP, concurrency);
      for (let round = 0; round < ROUNDS; round++) {
        // A new order each round, and a collected heap before each case: a fixed rotation kept the
        // same neighbours (oncely always ran right after ky, and paid for ky's garbage).
        for (const name of shuffled(names, 2026 * 1000 + round)) {
          const rate = (await cases[name]?.(PER_ROUND, concurrency)) as Rate;
          rates[name]?.push(rate);
        }
      }
      const base = rates.fetch as Rate[];
      const timeRatioOf = (name: string) =>
        median((rates[name] as Rate[]).map((r, i) => (base[i] as Rate).perSecond / r.perSecond));
      // What the same work costs by hand: the floor each oncely row is compared with.
      const floors: Record<string, string> = {
        oncely: 'fetchKeyTimeout',
        oncelyNoTimeout: 'fetchKey',
      };
      for (const name of names) {
        const own = rates[name] as Rate[];
        const timeRatio = timeRatioOf(name);
        const cpuRatio = median(own.map((r, i) => r.cpuMicros / (base[i] as Rate).cpuMicros));
        rows.push([
          String(concurrency),
          LABELS[name] as string,
          Math.round(median(own.map((r) => r.perSecond))).toLocaleString('en-US'),
          `${timeRatio.toFixed(2)}×`,
          Math.round(median(own.map((r) => r.cpuMicros))).toLocaleString('en-US'),
          `${cpuRatio.toFixed(2)}×`,
        ]);
        bars.push({ label: `c=${concurrency} ${name}`, value: 1 / timeRatio });
        if (name.startsWith('oncely')) {
          const met = timeRatio <= TARGET ? 'met' : 'NOT met';
          const what = name === 'oncely' ? 'defaults' : 'no timeouts';
          const floor = timeRatioOf(floors[name] as string);
          verdicts.push(
            `${what}, concurrency ${concurrency}: ${timeRatio.toFixed(2)}× (${met}; the same work by hand: ${floor.toFixed(2)}×)`,
          );
        }
        console.error(
          `client c=${concurrency} ${name}: time ${timeRatio.toFixed(2)}×, CPU ${cpuRatio.toFixed(2)}×`,
        );
      }
    }
  } finally {
    await Promise.all(Object.values(workers).map((worker) => worker.stop()));
    await server.stop();
  }
  const markdown = [
    `Small JSON POSTs (${JSON.stringify(PAYLOAD).length} bytes) to a loopback \`node:http\` server in a separate process; every case reads the JSON body. ${(PER_ROUND * ROUNDS).toLocaleString('en-US')} requests per case and concurrency after ${WARMUP} warm-up requests, in ${ROUNDS} interleaved rounds of ${PER_ROUND.toLocaleString('en-US')} with the cases in a new (seeded random) order each round and a garbage collection before each case's share, so that no case pays for the garbage of the one before. Each case runs in a worker thread of its own, as an application calls one HTTP client: sharing one V8 isolate, the cases' different argument shapes made fetch's call sites polymorphic and slowed them unevenly. Threads run fetch slower than the main thread does, so req/s here are lower than an app's; the ratios compare like with like. req/s and client CPU are medians over rounds; ratios are medians of per-round ratios to plain \`fetch\` (lower is cheaper). oncely runs with its defaults: a generated key, a 10 s per-attempt timeout (an AbortSignal and a timer per request), the retry budget, no journal. The two "by hand" rows do only what every oncely call must (a random key in a header; and a timeout signal cleared on the response), so the gap between them and oncely is oncely's own cost.`,
    '',
    table(
      ['Concurrency', 'Case', 'req/s', 'Time vs fetch', 'Client CPU µs/req', 'CPU vs fetch'],
      rows,
    ),
    '',
    `Target: oncely under ${TARGET.toFixed(2)}× plain fetch in time. This run: ${verdicts.join('; ')}.`,
    '',
    barChart('Speed relative to plain fetch (higher is better)', bars),
  ].join('\n');
  return { title: 'Client: cost per request', markdown };
}

/** A case's worker thread (bench/support/client-worker.ts), one round at a time. */
class CaseWorker {
  readonly #worker: Worker;

  constructor(name: CaseName, url: string) {
    this.#worker = new Worker(new URL('./support/client-worker.ts', import.meta.url), {
      workerData: { name, url },
    });
  }

  run(total: number, concurrency: number): Promise<Rate> {
    return new Promise((resolve, reject) => {
      this.#worker.once('message', resolve);
      this.#worker.once('error', reject);
      this.#worker.postMessage({ total, concurrency });
    }).finally(() => this.#worker.removeAllListeners('error')) as Promise<Rate>;
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}

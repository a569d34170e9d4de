/**
 * The client's cost per request (issue 2): plain fetch, bare ky and oncely's `client.post` with a
 * generated key and no journal, on a loopback server in a separate process, measured in the same
 * run. Rounds repeat with the cases in rotating order; each figure is the median of the rounds,
 * and each ratio the median of the per-round ratios to plain fetch in that round.
 */
import ky from 'ky';
import { createClient } from '../src/index.ts';
import { startChildServer } from './support/child-server.ts';
import { median, table, throughput } from './support/measure.ts';

// 5,000 requests per case and concurrency, split into interleaved rounds.
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_ROUND = Math.ceil(REQUESTS / ROUNDS);
const WARMUP = 500;
const CONCURRENCY = [1, 32] as const;
const TARGET = 1.1;

const payload = { amount: 1200, currency: 'EUR', note: 'bench' };

export async function run(): Promise<{ title: string; markdown: string }> {
  const server = await startChildServer();
  const url = `${server.url}/charges`;
  const client = createClient();
  const cases: Record<string, () => Promise<void>> = {
    fetch: async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      await response.json();
    },
    ky: async () => {
      const response = await ky.post(url, { json: payload });
      await response.json();
    },
    oncely: async () => {
      const response = await client.post(url, { json: payload });
      await response.json();
    },
  };
  const names = Object.keys(cases);
  const rows: string[][] = [];
  const verdicts: string[] = [];
  try {
    for (const concurrency of CONCURRENCY) {
      const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (const name of names)
        await throughput(cases[name] as () => Promise<void>, WARMUP, concurrency);
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order so that no case always runs first (warm caches, GC debt).
        const order = names.map((_, i) => names[(i + round) % names.length] as string);
        for (const name of order) {
          const rate = await throughput(cases[name] as () => Promise<void>, PER_ROUND, concurrency);
          rates[name]?.push(rate);
        }
      }
      const fetchRates = rates.fetch as number[];
      for (const name of names) {
        const own = rates[name] as number[];
        const ratio = median(own.map((rate, i) => (fetchRates[i] as number) / rate));
        rows.push([
          String(concurrency),
          name === 'oncely'
            ? 'oncely `client.post` (generated key)'
            : name === 'ky'
              ? 'ky `ky.post`'
              : 'plain `fetch`',
          Math.round(median(own)).toLocaleString('en-US'),
          `${ratio.toFixed(2)}×`,
        ]);
        if (name === 'oncely') {
          verdicts.push(
            `concurrency ${concurrency}: ${ratio.toFixed(2)}× plain fetch, ${ratio <= TARGET ? 'target met' : 'target NOT met'}`,
          );
        }
        console.error(
          `client c=${concurrency} ${name}: ${Math.round(median(own))} req/s, ${ratio.toFixed(2)}×`,
        );
      }
    }
  } finally {
    await server.stop();
  }
  const markdown = [
    `Small JSON POSTs (${JSON.stringify(payload).length} bytes) to a loopback \`node:http\` server in a separate process. ${(PER_ROUND * ROUNDS).toLocaleString('en-US')} requests per case and concurrency after ${WARMUP} warm-up requests, in ${ROUNDS} interleaved rounds of ${PER_ROUND.toLocaleString('en-US')} with the cases in rotating order; req/s is the median of the rounds, the ratio is the median per-round time ratio to plain \`fetch\` (lower is cheaper). Every case reads the JSON body.`,
    '',
    table(['Concurrency', 'Case', 'req/s', 'Time vs fetch'], rows),
    '',
    `Target: oncely under ${TARGET.toFixed(2)}× plain fetch for a POST with a generated key and no journal. Result: ${verdicts.join('; ')}.`,
  ].join('\n');
  return { title: 'Client: cost per request', markdown };
}

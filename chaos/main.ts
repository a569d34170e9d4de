/**
 * `npm run chaos`: pushes operations through injected faults, server kills and client kills, and
 * fails unless every operation took effect exactly once. See docs/reliability.md.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CHAOS_STORES, type ChaosStore } from './ledger.ts';
import { exactlyOnce, formatMarkdown, formatText } from './report.ts';
import { type ChaosResult, runChaos } from './run.ts';

const USAGE = `usage: npm run chaos -- [options]
  --ops N            logical operations per store (default 10000)
  --fault-rate R     probability of a fault per attempt, and of a client kill per client process (default 0.3)
  --store S          sqlite | redis | postgres | all (default sqlite; redis and postgres need
                     ONCELY_REDIS_URL / ONCELY_POSTGRES_URL, see scripts/services.sh)
  --concurrency N    operations in flight at once (default 64)
  --seed N           seed of the fault decisions (default: random, printed)
  --adapter A        web: idempotency() on node:http, every attempt logged by the server (default);
                     node: the oncely/server/node adapter
  --unguarded        the control run: the same faults with no server helper in front of the
                     handler; it shows the duplicates the helper prevents (and exits 1)
  --report FILE      write the results in Markdown (docs/reliability.md)`;

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '10000' },
    'fault-rate': { type: 'string', default: '0.3' },
    store: { type: 'string', default: 'sqlite' },
    concurrency: { type: 'string', default: '64' },
    seed: { type: 'string' },
    report: { type: 'string' },
    adapter: { type: 'string', default: 'web' },
    unguarded: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const ops = Number(values.ops);
const faultRate = Number(values['fault-rate']);
const concurrency = Number(values.concurrency);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const fail = (message: string) => {
  console.error(`chaos: ${message}\n${USAGE}`);
  process.exit(2);
};
if (!Number.isInteger(ops) || ops < 1) fail('--ops must be a positive integer');
if (!(faultRate >= 0 && faultRate < 1)) fail('--fault-rate must be in [0, 1)');
if (!Number.isInteger(concurrency) || concurrency < 1)
  fail('--concurrency must be a positive integer');
if (!Number.isInteger(seed)) fail('--seed must be an integer');
if (values.adapter !== 'web' && values.adapter !== 'node') fail('--adapter must be web or node');
const adapter = values.adapter as 'web' | 'node';

const urls: Record<ChaosStore, string | undefined> = {
  sqlite: undefined,
  redis: process.env.ONCELY_REDIS_URL,
  postgres: process.env.ONCELY_POSTGRES_URL,
};
let stores: ChaosStore[];
if (values.store === 'all') {
  stores = CHAOS_STORES.filter((store) => store === 'sqlite' || urls[store] !== undefined);
  for (const store of CHAOS_STORES) {
    if (!stores.includes(store)) console.warn(`chaos: ${store} skipped (no URL set)`);
  }
} else if ((CHAOS_STORES as readonly string[]).includes(values.store)) {
  stores = [values.store as ChaosStore];
  if (stores[0] !== 'sqlite' && urls[values.store as ChaosStore] === undefined) {
    fail(`--store ${values.store} needs ONCELY_${values.store.toUpperCase()}_URL`);
  }
} else {
  fail(`unknown store ${values.store}`);
  stores = [];
}

const control = values.unguarded ? ', control run: no server helper' : '';
console.log(`chaos: ${ops} operations per store, fault rate ${faultRate}, seed ${seed}${control}`);
const results: ChaosResult[] = [];
for (const store of stores) {
  const result = await runChaos({
    store,
    adapter,
    guard: !values.unguarded,
    url: urls[store],
    ops,
    faultRate,
    concurrency,
    seed,
    deadlineMs: 1_800_000,
    onProgress: (p) => {
      if (process.stdout.isTTY) {
        process.stdout.write(
          `\r${store}: ${p.done}/${p.ops} done, ${p.retries} retries, ${p.replays} replays, ${p.faults} faults`,
        );
      }
    },
  });
  if (process.stdout.isTTY) process.stdout.write('\n');
  console.log(`${store}: finished in ${(result.durationMs / 1000).toFixed(1)} s`);
  results.push(result);
}

console.log(`\n${formatText(results)}`);
if (values.report) {
  // The report carries its own negative control (docs/reliability.md, "Control").
  let control: ChaosResult | undefined;
  if (!values.unguarded) {
    const controlOps = Math.min(ops, 1_000);
    console.log(`\ncontrol run: ${controlOps} operations on sqlite with no server helper`);
    control = await runChaos({
      store: 'sqlite',
      adapter,
      guard: false,
      ops: controlOps,
      faultRate,
      concurrency,
      seed,
      deadlineMs: 1_800_000,
    });
    console.log(
      `control: ${control.duplicates} duplicates, ${control.effects} effects for ${control.ops} operations`,
    );
  }
  const args = process.argv.slice(2).map((arg) => (/^[\w./=-]+$/.test(arg) ? arg : `'${arg}'`));
  const command = `npm run chaos -- ${args.join(' ')}`;
  await writeFile(
    values.report,
    formatMarkdown(results, { command, faultRate, seed, concurrency, date: new Date() }, control),
  );
  console.log(`\nwrote ${values.report}`);
}
// The verdict is final once printed: exit now rather than wait on a handle some killed process
// left behind (a full 30,000-operation run once stayed up after writing its report).
process.exit(results.every(exactlyOnce) ? 0 : 1);

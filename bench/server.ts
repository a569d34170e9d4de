/**
 * The server helper's cost (issue 4, "Tests and figures"): requests per second through oncely
 * against the same handler without it, on Express and on Hono, per store, with the peers
 * `express-idempotency` and `@node-idempotency/core` on the same Express app, all in one run.
 *
 * Each server runs in a child process of its own (2 cores: one for it, one for autocannon), with
 * 64 connections, a warm-up, then a measured run per key mode: a fresh Idempotency-Key on every
 * request (every request claims, runs the handler and stores), and one key for all (every request
 * after the first is a replay). Bare servers are measured at the start and the end of each
 * framework's group; ratios are to the mean of the two, which also shows how steady the machine
 * was. `BENCH_SERVER_SECONDS` sets the measured seconds per case (default 3);
 * `BENCH_PROFILE=<dir>` runs the oncely servers under `--cpu-prof` and leaves the profiles there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { table } from './support/measure.ts';
import { PAYLOAD, ROUTE, type ServerConfig } from './support/server-config.ts';
import { CONNECTIONS, type KeyMode, type LoadResult, load } from './support/server-load.ts';
import { startServer } from './support/server-process.ts';

const SECONDS = Number(process.env.BENCH_SERVER_SECONDS ?? 3);
const WARMUP_SECONDS = 1;
const TARGET = 0.85;
const PROFILE_DIR = process.env.BENCH_PROFILE;

interface Case {
  config: ServerConfig;
  /** What the table calls it. */
  label: string;
  modes: readonly KeyMode[];
}

interface Row {
  framework: string;
  label: string;
  mode: KeyMode | 'bare';
  result: LoadResult;
}

/** A case that could not run (a server that did not start, a store that did not answer). */
interface Failure {
  framework: string;
  label: string;
  error: string;
}

const BOTH: readonly KeyMode[] = ['new', 'replay'];

function expressCases(sqliteFile: string): Case[] {
  const cases: Case[] = [];
  const oncely = (store: ServerConfig['store'], target?: string): Case => ({
    config: { framework: 'express', guard: 'oncely', store, target },
    label: `oncely, ${store} store`,
    modes: BOTH,
  });
  cases.push(oncely('memory'), oncely('sqlite', sqliteFile));
  if (process.env.ONCELY_REDIS_URL) cases.push(oncely('redis', process.env.ONCELY_REDIS_URL));
  if (process.env.ONCELY_POSTGRES_URL) {
    cases.push(oncely('postgres', process.env.ONCELY_POSTGRES_URL));
  }
  cases.push(
    {
      config: { framework: 'express', guard: 'express-idempotency' },
      label: '`express-idempotency` (its memory adapter)',
      modes: BOTH,
    },
    {
      config: { framework: 'express', guard: 'node-idempotency' },
      label: '`@node-idempotency/core` (memory storage)',
      modes: BOTH,
    },
  );
  return cases;
}

function honoCases(): Case[] {
  return [
    {
      config: { framework: 'hono', guard: 'oncely', store: 'memory' },
      label: 'oncely, memory store',
      modes: BOTH,
    },
  ];
}

export async function run(): Promise<{ title: string; markdown: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'oncely-bench-server-'));
  const sqliteFile = join(directory, 'records.sqlite');
  const groups: [ServerConfig['framework'], Case[]][] = [
    ['express', expressCases(sqliteFile)],
    ['hono', honoCases()],
  ];
  const rows: Row[] = [];
  const failures: Failure[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  try {
    for (const [framework, cases] of groups) {
      const bare: Case = { config: { framework, guard: 'none' }, label: 'bare', modes: ['new'] };
      rows.push(...(await measure(framework, bare, 'bare')));
      for (const item of cases) {
        try {
          rows.push(...(await measure(framework, item)));
        } catch (error) {
          // One broken case must not lose the others' figures; the report names it.
          const message = error instanceof Error ? error.message : String(error);
          failures.push({ framework, label: item.label, error: message });
          console.error(`server ${framework} ${item.label}: FAILED, ${message}`);
        }
      }
      rows.push(...(await measure(framework, bare, 'bare')));
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  return { title: 'Server: cost of the helper', markdown: report(rows, failures, loadBefore) };
}

async function measure(framework: string, item: Case, as?: 'bare'): Promise<Row[]> {
  const profile = PROFILE_DIR !== undefined && item.config.guard === 'oncely';
  const server = await startServer(item.config, profile ? PROFILE_DIR : undefined);
  const rows: Row[] = [];
  try {
    for (const mode of item.modes) {
      const key = `bench-replay-${Date.now()}`;
      if (mode === 'replay') await prime(server.url, key);
      await load(server.url, mode, WARMUP_SECONDS, key);
      const result = await load(server.url, mode, SECONDS, key);
      rows.push({ framework, label: item.label, mode: as ?? mode, result });
      console.error(
        `server ${framework} ${item.label} ${as ?? mode}: ${Math.round(result.rps)} req/s` +
          (result.non2xx + result.errors > 0
            ? ` (${result.non2xx} non-2xx, ${result.errors} errors)`
            : ''),
      );
    }
  } finally {
    await server.stop();
  }
  // Let the machine settle between servers (sockets in TIME_WAIT, the child's exit).
  await sleep(200);
  return rows;
}

/** The first request of the replay case: it runs the handler and stores the response. */
async function prime(url: string, key: string): Promise<void> {
  const response = await fetch(`${url}${ROUTE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: PAYLOAD,
  });
  await response.arrayBuffer();
  if (response.status !== 201)
    throw new Error(`bench: priming the replay key got ${response.status}`);
}

const FRAMEWORKS: Record<string, string> = {
  express: 'Express 5',
  hono: 'Hono 4 on `@hono/node-server`',
};

function report(rows: Row[], failures: Failure[], loadBefore: number): string {
  const lines: string[][] = [];
  const verdicts: string[] = [];
  for (const framework of Object.keys(FRAMEWORKS)) {
    const own = rows.filter((row) => row.framework === framework);
    const bares = own.filter((row) => row.mode === 'bare').map((row) => row.result.rps);
    if (bares.length === 0) continue;
    const bare = bares.reduce((sum, rps) => sum + rps, 0) / bares.length;
    lines.push([
      FRAMEWORKS[framework] as string,
      'bare handler (start / end of group)',
      '—',
      bares.map(formatRps).join(' / '),
      '1.00×',
      '',
    ]);
    for (const row of own) {
      if (row.mode === 'bare') continue;
      const ratio = row.result.rps / bare;
      const problems = row.result.non2xx + row.result.errors;
      lines.push([
        FRAMEWORKS[framework] as string,
        row.label,
        row.mode === 'new' ? 'new keys' : 'replays',
        formatRps(row.result.rps),
        `${ratio.toFixed(2)}×`,
        problems > 0 ? `${row.result.non2xx} non-2xx, ${row.result.errors} errors` : '',
      ]);
      if (row.label.startsWith('oncely') && row.label.endsWith('memory store')) {
        const met = ratio >= TARGET;
        verdicts.push(
          `${FRAMEWORKS[framework]}, ${row.mode === 'new' ? 'new keys' : 'replays'}: ${ratio.toFixed(2)}× (${met ? 'met' : 'NOT met'})`,
        );
      }
    }
  }
  const missing: string[] = [];
  if (!process.env.ONCELY_REDIS_URL) missing.push('the Redis store (ONCELY_REDIS_URL unset)');
  if (!process.env.ONCELY_POSTGRES_URL)
    missing.push('the PostgreSQL store (ONCELY_POSTGRES_URL unset)');
  return [
    `POST ${ROUTE} with a ${PAYLOAD.length}-byte JSON body; the handler parses it and answers 201 with a new charge id. Every server runs in a child process of its own; autocannon drives it with ${CONNECTIONS} connections for ${SECONDS} s per case after a ${WARMUP_SECONDS} s warm-up. *New keys*: every request carries a fresh Idempotency-Key (claim, handler, store). *Replays*: one key for all, so every request after the first is answered from the store. Bare servers get the same requests and ignore the key. Ratios are to the mean of the bare runs at the start and end of each group. \`@node-idempotency/core\` runs behind Express glue written for this benchmark (its Express plugin is not published), on a Map storage like its memory adapter. Load average when the section started: ${loadBefore.toFixed(1)} (2 cores: other work on the machine moves these figures; compare ratios within one run).`,
    '',
    table(['Framework', 'Case', 'Keys', 'req/s', 'vs bare', 'Errors'], lines),
    '',
    `Target: oncely with the memory store at least ${TARGET.toFixed(2)}× bare, on Express and on Hono. Result: ${verdicts.length > 0 ? verdicts.join('; ') : 'not measured'}.`,
    ...(missing.length > 0 ? ['', `Not in this run: ${missing.join('; ')}.`] : []),
    ...failures.map((f) => `\nFailed to run: ${FRAMEWORKS[f.framework]}, ${f.label}: ${f.error}`),
  ].join('\n');
}

function formatRps(rps: number): string {
  return Math.round(rps).toLocaleString('en-US');
}

/**
 * Reads a V8 `.cpuprofile` (from `BENCH_PROFILE=<dir> npm run bench -- server`, or any
 * `node --cpu-prof`) and prints where the time went: the functions and the files with the most
 * self time, and the inclusive time of oncely's own functions.
 * `node bench/support/server-profile.ts <file.cpuprofile> [top=25]`
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, requestsArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/support/server-profile.ts <file.cpuprofile> [top] [requests]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
// With the number of requests the server answered, times are also shown per request.
const requests = requestsArg === undefined ? undefined : Number(requestsArg);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);

const self = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + delta);
  total += delta;
});

const label = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^file:\/\/\/work\/main\//, '').replace(/^.*node_modules\//, '~/');
  return `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
};
const fileOf = (node: ProfileNode) =>
  node.callFrame.url.replace(/^file:\/\/\/work\/main\//, '').replace(/^.*node_modules\//, '~/') ||
  `(${node.callFrame.functionName || 'native'})`;

const selfBy = (key: (node: ProfileNode) => string) => {
  const sums = new Map<string, number>();
  for (const [id, time] of self) {
    const name = key(byId.get(id) as ProfileNode);
    sums.set(name, (sums.get(name) ?? 0) + time);
  }
  return [...sums].sort((a, b) => b[1] - a[1]);
};

// Inclusive time of each oncely function: a sample counts once per distinct frame on its stack.
const inclusive = new Map<string, number>();
for (const [id, time] of self) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at) as ProfileNode;
    if (!node.callFrame.url.includes('/src/server/')) continue;
    const name = label(node);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + time);
  }
}

// Shares are of busy time: an idle server (between load runs) says nothing about its cost.
const idle = [...self].reduce(
  (sum, [id, time]) => (byId.get(id)?.callFrame.functionName === '(idle)' ? sum + time : sum),
  0,
);
const busy = total - idle;
const pct = (time: number) =>
  `${((time / busy) * 100).toFixed(1).padStart(5)} %` +
  (requests === undefined ? '' : `  ${(time / requests).toFixed(2).padStart(7)} µs/req`);
console.log(
  `${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy` +
    (requests === undefined ? '' : `, ${(busy / requests).toFixed(1)} µs busy per request`),
);
console.log('\nself time by function:');
for (const [name, time] of selfBy(label)
  .filter(([n]) => !n.startsWith('(idle)'))
  .slice(0, top))
  console.log(`${pct(time)}  ${name}`);
console.log('\nself time by file:');
for (const [name, time] of selfBy(fileOf).slice(0, top)) console.log(`${pct(time)}  ${name}`);
console.log('\ninclusive time of oncely (src/server) functions:');
for (const [name, time] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${pct(time)}  ${name}`);
}

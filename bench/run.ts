/**
 * `npm run bench`: runs every bench module that exists (bench/<name>.ts exporting
 * `run(): Promise<{ title, markdown }>`) and writes docs/benchmarks.md. `node bench/run.ts client`
 * runs only the named ones and keeps the other sections of the document as they were.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const MODULES = ['client', 'server', 'journal'] as const;
const output = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

interface BenchModule {
  run(): Promise<{ title: string; markdown: string }>;
}

const wanted = process.argv.slice(2);
const sections = new Map<string, string>(readSections());
for (const name of MODULES) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const file = new URL(`./${name}.ts`, import.meta.url);
  if (!existsSync(file)) continue;
  console.error(`bench: ${name}…`);
  const started = performance.now();
  const module = (await import(file.href)) as BenchModule;
  const { title, markdown } = await module.run();
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  sections.set(
    name,
    `<!-- bench:${name} -->\n## ${title}\n\n${markdown}\n\n_Section run: ${new Date().toISOString()}, ${seconds} s._\n<!-- /bench:${name} -->`,
  );
}

const header = [
  '# Benchmarks',
  '',
  `Written by \`npm run bench\` (\`node bench/run.ts\`); do not edit by hand.`,
  '',
  `- Machine: ${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`,
  `- Node: ${process.version}`,
  `- Date: ${new Date().toISOString()}`,
  `- Command: \`npm run bench${wanted.length > 0 ? ` -- ${wanted.join(' ')}` : ''}\``,
  '',
].join('\n');
const body = MODULES.filter((name) => sections.has(name))
  .map((name) => sections.get(name))
  .join('\n\n');
writeFileSync(output, `${header}\n${body}\n`);
console.error(`bench: wrote ${output}`);

function readSections(): Array<[string, string]> {
  if (!existsSync(output)) return [];
  const text = readFileSync(output, 'utf8');
  const found: Array<[string, string]> = [];
  for (const match of text.matchAll(/<!-- bench:(\w+) -->[\s\S]*?<!-- \/bench:\1 -->/g)) {
    found.push([match[1] as string, match[0]]);
  }
  return found;
}

/**
 * `npm run demo` as a newcomer runs it: a child process, nothing set up beforehand. It must exit 0
 * and print a table in which every operation took effect once, after one client crash.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../examples/demo/main.ts', import.meta.url));

function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    // The demo gives up by itself after 120 s; past that, stop it so the failure shows its output.
    const timer = setTimeout(() => child.kill('SIGKILL'), 130_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The value of a row of the final table. */
function row(output: string, label: string): number {
  const match = new RegExp(`^\\s+${label.replace(/[()]/g, '\\$&')}\\s+(\\d+)$`, 'm').exec(output);
  if (match === null) throw new Error(`no row "${label}" in:\n${output}`);
  return Number(match[1]);
}

describe('npm run demo', () => {
  it('shows each operation happened once, through faults and one client crash', {
    // About 10 s on a quiet machine; generous for a busy CI, and above the kill in runDemo.
    timeout: 150_000,
  }, async () => {
    const { code, output } = await runDemo(['--ops', '100']);
    expect(code, output).toBe(0);
    expect(output).toContain('Each of the 100 operations happened exactly once');
    expect(code).toBe(0);
    expect(row(output, 'operations')).toBe(100);
    expect(row(output, 'effects on the server')).toBe(100);
    expect(row(output, 'duplicates')).toBe(0);
    expect(row(output, 'lost')).toBe(0);
    expect(row(output, 'keys changed between attempts')).toBe(0);
    expect(row(output, 'client process killed (SIGKILL)')).toBe(1);
    expect(row(output, 'faults injected')).toBeGreaterThan(10);
    expect(row(output, 'attempts')).toBeGreaterThan(100);
    // Progress lines while it runs (not a TTY here: periodic lines).
    expect(output).toMatch(/\d+\/100 done/);
  });

  it('refuses a bad --ops with usage and exit code 2', async () => {
    const { code, output } = await runDemo(['--ops', 'many']);
    expect(code).toBe(2);
    expect(output).toContain('usage: npm run demo');
  });

  it('refuses a bad --seed, which would run unseeded and print "seed NaN"', async () => {
    const { code, output } = await runDemo(['--ops', '10', '--seed', 'abc']);
    expect(code).toBe(2);
    expect(output).toContain('usage: npm run demo');
  });
});

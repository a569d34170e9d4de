import { describe, expect, it } from 'vitest';
import { runExample } from './support.ts';

describe('examples/node-worker', () => {
  it('SIGKILLed mid-way, the restarted worker resumes with the same keys: each invoice once', async () => {
    const run = await runExample('node-worker');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('run 1 ended: SIGKILL');

    // The keys the journal held after the kill are exactly the keys run 2 resumed.
    const held = [...run.stdout.matchAll(/^ {2}(invoice:inv-\d+) {2}\(running/gm)].map((m) => m[1]);
    expect(held.length).toBeGreaterThan(0);
    const resumed = run.stdout.match(/resumed (\d+) from the journal: (.*)$/m);
    expect(resumed?.[2]?.split(', ')).toEqual(held);
    expect(run.stdout).toContain('run 2 ended: exit 0');

    expect(run.stdout).toMatch(/sent once {12}20\n/);
    expect(run.stdout).toMatch(/sent more than once {2}0\n/);
    expect(run.stdout).toMatch(/never sent {11}0\n/);
    expect(run.stdout).toMatch(/one key per invoice {2}yes\n/);
    expect(run.stdout).toContain('each invoice was sent exactly once');
  });
});

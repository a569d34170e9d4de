/**
 * A child process of the SQLite store test: at each of `rounds` instants (`startAt + round * gap`
 * epoch ms) it opens `<dir>/<round>.db` with sqliteStore, as its siblings open the same new file
 * at the same instant, claims a key and closes. Prints one JSON line: the error of each round
 * that failed. Run with Node 24 (type stripping): `node sqlite-opener.ts <dir> <rounds> <startAt> <gap>`.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { sqliteStore } from '../../../src/server/stores/sqlite.ts';

const [dir = '', rounds, startAt, gap] = process.argv.slice(2);
const failures: string[] = [];
for (let round = 0; round < Number(rounds); round++) {
  const at = Number(startAt) + round * Number(gap);
  // Spin, not sleep: the processes must reach the open within the same millisecond or so.
  while (Date.now() < at) {}
  try {
    const store = sqliteStore(join(dir, `${round}.db`));
    const now = Date.now();
    // Awaited: a claim that failed unawaited was an unhandled rejection, which ended this process
    // without its report (the claim is a promise since the group commit).
    await store.claim(randomUUID(), {
      state: 'in-flight',
      fingerprint: 'fp',
      owner: randomUUID(),
      leaseUntil: now + 60_000,
      expiresAt: now + 3_600_000,
    });
    await store.close();
  } catch (error) {
    const cause = (error as Error).cause as Error | undefined;
    failures.push(`round ${round}: ${(error as Error).message}: ${cause?.message}`);
  }
}
process.stdout.write(`${JSON.stringify(failures)}\n`);

/**
 * A lock file beside the journal, as LevelDB's `LOCK`: created with O_EXCL, holding the owner's pid,
 * host name and start time. A lock whose process is gone (same host, pid not alive) is stale and
 * taken over; a lock from another host cannot be judged and counts as held.
 */
import { type FileHandle, open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { JournalLockedError, type LockHolder } from './journal-locked-error.ts';

// A holder that crashed between creating the file and writing its pid leaves it empty; after this
// long such a file is taken for stale.
const EMPTY_LOCK_GRACE_MS = 5_000;
// A takeover guard is held for a few milliseconds; one older than this was left by a dead process.
const GUARD_STALE_MS = 2_000;
// Rounds of create, judge, take over before giving up (contention on a stale lock).
const ROUNDS = 200;
// When this process started, taken once so that a later clock step cannot move it. A lock holding
// our own pid but written before then was left by an earlier process that had the same pid: a
// container restarted after a crash runs its entry point under the same pid (often 1) every time.
const STARTED_AT = Math.floor(Date.now() - process.uptime() * 1000);

/** Takes the lock at `lockPath`. @returns a function that releases it. */
export async function acquireLockFile(lockPath: string): Promise<() => Promise<void>> {
  const me: LockHolder = { pid: process.pid, hostname: hostname(), since: Date.now() };
  const text = JSON.stringify(me);
  for (let round = 0; round < ROUNDS; round++) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return () => releaseLockFile(lockPath, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const seen = await readHolder(lockPath);
    if (seen === 'gone') continue;
    if (!(await isStale(lockPath, seen))) {
      throw new JournalLockedError(lockPath, typeof seen === 'string' ? undefined : seen);
    }
    await takeOver(lockPath, seen);
  }
  throw new JournalLockedError(lockPath, undefined);
}

async function releaseLockFile(lockPath: string, text: string): Promise<void> {
  try {
    if ((await readFile(lockPath, 'utf8')) === text) await unlink(lockPath);
  } catch {
    // Already gone, or taken over after we were judged dead: not ours to remove.
  }
}

async function readHolder(lockPath: string): Promise<LockHolder | 'unreadable' | 'gone'> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    if (typeof holder.pid === 'number' && typeof holder.hostname === 'string') return holder;
  } catch {}
  return 'unreadable';
}

async function isStale(lockPath: string, seen: LockHolder | 'unreadable'): Promise<boolean> {
  if (seen === 'unreadable') {
    const info = await stat(lockPath).catch(() => undefined);
    return info !== undefined && Date.now() - info.mtimeMs > EMPTY_LOCK_GRACE_MS;
  }
  if (seen.hostname !== hostname()) return false;
  // Our pid and written since we started: another journal of this process holds it.
  if (seen.pid === process.pid) return seen.since < STARTED_AT;
  return !isAlive(seen.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a stale lock, under a short-lived guard file (`<lock>.takeover`, O_EXCL) so that two
 * processes judging the same lock stale at once cannot remove a fresh lock one of them just took:
 * only the guard's holder removes the lock, and only after reading it again under the guard.
 */
async function takeOver(lockPath: string, seen: LockHolder | 'unreadable'): Promise<void> {
  const guard = `${lockPath}.takeover`;
  let handle: FileHandle;
  try {
    handle = await open(guard, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process is taking over; a guard this old belongs to one that died doing so.
    const info = await stat(guard).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > GUARD_STALE_MS) await unlink(guard).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
    return;
  }
  try {
    const now = await readHolder(lockPath);
    if (now === 'gone') return;
    const same =
      typeof now === 'string' || typeof seen === 'string'
        ? now === seen
        : now.pid === seen.pid && now.since === seen.since;
    if (same && (await isStale(lockPath, now))) await unlink(lockPath).catch(() => {});
  } finally {
    await handle.close();
    await unlink(guard).catch(() => {});
  }
}

import { OncelyError } from '../errors/oncely-error.ts';

/** Who holds a file journal's lock, as written in its lock file. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** Epoch ms when the holder took the lock. */
  since: number;
}

/**
 * A file journal is open for writing in another live process. One process writes a file journal at
 * a time (as LevelDB's `LOCK` file), which is what keeps two processes from resuming the same
 * operations at once. A lock left by a process that died is taken over, never reported.
 */
export class JournalLockedError extends OncelyError {
  /** The lock file's path. */
  readonly lockPath: string;
  /** The process holding it, when the lock file could be read. */
  readonly holder: LockHolder | undefined;

  constructor(lockPath: string, holder: LockHolder | undefined) {
    const who = holder ? `process ${holder.pid} on ${holder.hostname}` : 'another process';
    super('JOURNAL_LOCKED', `The journal is in use by ${who} (lock file ${lockPath})`);
    this.name = 'JournalLockedError';
    this.lockPath = lockPath;
    this.holder = holder;
  }
}

/**
 * `oncely journal list|show|retry|drop <file>`: inspect and act on a file journal (issue 3, "A
 * command for operators"). `list` and `show` open the file read-only, so they work while the
 * application runs; `retry` and `drop` take the journal's lock, and say so when the application
 * holds it. Exit codes: 0 done, 1 not found or failed, 2 usage.
 */
import { Buffer } from 'node:buffer';
import { isOncelyError } from '../errors/oncely-error.ts';
import { type FileJournal, fileJournal, type RecoveryReport } from '../journal/file.ts';
import { ENTRY_STATE, isUnsettled, type JournalEntry } from '../journal/journal.ts';
import type { JournalLockedError } from '../journal/journal-locked-error.ts';
import type { CommandIo } from './io.ts';

const USAGE = `usage:
  oncely journal list  <file> [--json]             every operation: id, name, key, state, attempts, age, next attempt
  oncely journal show  <file> <id>                 one operation as JSON (secret headers were never written)
  oncely journal retry <file> <id>                 make it due now; a failed or expired one goes back to pending
  oncely journal drop  <file> <id>                 remove one operation
  oncely journal drop  <file> --all-settled        remove every succeeded or failed operation
  oncely journal drop  <file> --all-expired        remove every expired operation

exit codes: 0 done, 1 not found or failed, 2 usage`;

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

interface Parsed {
  action: string;
  file: string;
  id: string | undefined;
  flags: Set<string>;
}

const FLAGS: Record<string, readonly string[]> = {
  list: ['--json'],
  show: ['--json'],
  retry: ['--json'],
  drop: ['--json', '--all-settled', '--all-expired'],
};

/** Runs `oncely journal …` with `args` after `journal`, and returns the exit code. */
export async function run(
  args: string[],
  io: CommandIo,
  now: () => number = Date.now,
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const parsed = parse(args);
  if (typeof parsed === 'string') {
    io.err(`oncely journal: ${parsed}\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    if (parsed.action === 'list') return await list(parsed, io, now);
    if (parsed.action === 'show') return await show(parsed, io);
    return await change(parsed, io, now);
  } catch (error) {
    io.err(`oncely journal: ${explain(error)}`);
    return EXIT.failed;
  }
}

function parse(args: string[]): Parsed | string {
  const [action, ...rest] = args;
  if (action === undefined) return 'missing action';
  const allowed = FLAGS[action];
  if (allowed === undefined) return `unknown action '${action}'`;
  // Any dash-led word is an option: `-j` is a mistyped flag, not a journal file named "-j".
  const isOption = (arg: string): boolean => arg.length > 1 && arg.startsWith('-');
  const flags = new Set(rest.filter(isOption));
  const positional = rest.filter((arg) => !isOption(arg));
  for (const flag of flags)
    if (!allowed.includes(flag)) return `unknown option '${flag}' for ${action}`;
  const [file, id, extra] = positional;
  if (file === undefined) return 'missing <file>';
  if (extra !== undefined) return `unexpected argument '${extra}'`;
  const bulk = flags.has('--all-settled') || flags.has('--all-expired');
  if (action === 'list' && id !== undefined) return `unexpected argument '${id}'`;
  if ((action === 'show' || action === 'retry') && id === undefined) return 'missing <id>';
  if (action === 'drop' && (id === undefined) === !bulk) {
    return 'drop takes one <id>, or --all-settled, or --all-expired';
  }
  if (flags.has('--all-settled') && flags.has('--all-expired')) {
    return 'give --all-settled or --all-expired, not both';
  }
  return { action, file, id, flags };
}

async function readOnly(file: string, io: CommandIo): Promise<FileJournal> {
  const journal = fileJournal(file, { readOnly: true, onRecover: (report) => warn(io, report) });
  await journal.open();
  return journal;
}

async function list(parsed: Parsed, io: CommandIo, now: () => number): Promise<number> {
  const journal = await readOnly(parsed.file, io);
  const entries = await journal.list();
  await journal.close();
  if (parsed.flags.has('--json')) {
    io.out(JSON.stringify(await Promise.all(entries.map(printable)), null, 2));
    return EXIT.ok;
  }
  if (entries.length === 0) {
    io.out(`${parsed.file}: no operations`);
    return EXIT.ok;
  }
  const time = now();
  const rows = entries.map((entry) => [
    entry.id,
    entry.name,
    entry.key,
    entry.state,
    String(entry.attempts),
    duration(time - entry.createdAt),
    next(entry, time),
  ]);
  io.out(table(['ID', 'NAME', 'KEY', 'STATE', 'ATTEMPTS', 'AGE', 'NEXT ATTEMPT'], rows));
  const counts = new Map<string, number>();
  for (const entry of entries) counts.set(entry.state, (counts.get(entry.state) ?? 0) + 1);
  const summary = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  io.out(`\n${entries.length} operation${entries.length === 1 ? '' : 's'}: ${summary}`);
  return EXIT.ok;
}

async function show(parsed: Parsed, io: CommandIo): Promise<number> {
  const journal = await readOnly(parsed.file, io);
  const entry = await journal.get(parsed.id as string);
  await journal.close();
  if (entry === undefined) return notFound(parsed, io);
  io.out(JSON.stringify(await printable(entry), null, 2));
  return EXIT.ok;
}

async function change(parsed: Parsed, io: CommandIo, now: () => number): Promise<number> {
  const journal = fileJournal(parsed.file, {
    create: false,
    onRecover: (report) => warn(io, report),
  });
  try {
    await journal.open();
    const report = (line: string, data: unknown): void =>
      parsed.flags.has('--json') ? io.out(JSON.stringify(data)) : io.out(line);

    if (parsed.action === 'drop' && parsed.id === undefined) {
      const settled = parsed.flags.has('--all-settled');
      const doomed = (await journal.list()).filter((entry) =>
        settled
          ? entry.state === ENTRY_STATE.succeeded || entry.state === ENTRY_STATE.failed
          : entry.state === ENTRY_STATE.expired,
      );
      for (const entry of doomed) await journal.delete(entry.id);
      const what = settled ? 'settled' : 'expired';
      report(`dropped ${doomed.length} ${what} operation${doomed.length === 1 ? '' : 's'}`, {
        dropped: doomed.map((entry) => entry.id),
      });
      return EXIT.ok;
    }

    const id = parsed.id as string;
    const entry = await journal.get(id);
    if (entry === undefined) return notFound(parsed, io);

    if (parsed.action === 'drop') {
      await journal.delete(id);
      const note = isUnsettled(entry.state) ? '; it will not be resumed' : '';
      report(`dropped ${id} (was ${entry.state}${note})`, { dropped: [id], state: entry.state });
      return EXIT.ok;
    }

    if (entry.state === ENTRY_STATE.succeeded) {
      io.err(`oncely journal: ${id} already succeeded; there is nothing to retry`);
      return EXIT.failed;
    }
    const time = now();
    // A reset operation gets its lifetime again, counted from now, so the next resume sends it
    // instead of expiring it at once; the operator has taken the decision the expiry asked for.
    const lifetime = entry.expiresAt === undefined ? undefined : entry.expiresAt - entry.createdAt;
    const updated = await journal.update(id, {
      state: isUnsettled(entry.state) ? entry.state : ENTRY_STATE.pending,
      nextAttemptAt: undefined,
      expiresAt: lifetime === undefined ? undefined : time + lifetime,
      updatedAt: time,
    });
    if (entry.state === ENTRY_STATE.expired) {
      io.err(
        `warning: ${id} had expired; if the server has forgotten key ${entry.key}, it will do the work again`,
      );
    }
    report(
      `${id} is ${updated?.state} and due now; the next resume() sends it with key ${entry.key}`,
      {
        retried: id,
        entry: updated && (await printable(updated)),
      },
    );
    return EXIT.ok;
  } finally {
    await journal.close();
  }
}

function notFound(parsed: Parsed, io: CommandIo): number {
  io.err(`oncely journal: no operation '${parsed.id}' in ${parsed.file}`);
  return EXIT.failed;
}

function warn(io: CommandIo, report: RecoveryReport): void {
  io.err(
    `warning: ${report.path}: skipped ${report.skippedFrames} torn or corrupt line(s) at byte offset(s) ${report.badOffsets.join(', ')}; their bytes are kept in ${report.corruptPath} once removed from the journal`,
  );
}

function explain(error: unknown): string {
  if (isOncelyError(error, 'JOURNAL_LOCKED')) {
    const holder = (error as JournalLockedError).holder;
    const who = holder ? `process ${holder.pid} on ${holder.hostname}` : 'another process';
    return `the journal is in use by ${who}; stop it (or let it finish) and try again`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The record as JSON can show it: binary bodies as base64 with their size. */
async function printable(entry: JournalEntry): Promise<unknown> {
  const body = entry.request.body;
  if (body?.type === 'bytes') {
    const base64 = Buffer.from(body.value).toString('base64');
    return withBody(entry, { type: 'bytes', size: body.value.byteLength, base64 });
  }
  if (body?.type === 'blob') {
    const base64 = Buffer.from(await body.value.arrayBuffer()).toString('base64');
    return withBody(entry, {
      type: 'blob',
      mediaType: body.value.type,
      size: body.value.size,
      base64,
    });
  }
  return entry;
}

function withBody(entry: JournalEntry, body: unknown): unknown {
  return { ...entry, request: { ...entry.request, body } };
}

function next(entry: JournalEntry, time: number): string {
  if (!isUnsettled(entry.state)) return '-';
  if (entry.nextAttemptAt === undefined || entry.nextAttemptAt <= time) return 'now';
  return `in ${duration(entry.nextAttemptAt - time)}`;
}

function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400)
    return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86_400)}d${Math.floor((seconds % 86_400) / 3600)}h`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

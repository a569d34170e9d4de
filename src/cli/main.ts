#!/usr/bin/env node
/**
 * The `oncely` command. Each subcommand lives in its own module and exports
 * `run(args, io): Promise<number>`, returning the process exit code.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from './io.ts';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: Command }> }> = {
  journal: {
    summary: 'journal list|show|retry|drop <file>  inspect and act on a file journal',
    load: () => import('./journal.ts'),
  },
  check: {
    summary:
      'check <url> [options]                 probe an API for the Idempotency-Key draft cases',
    load: () => import('./check.ts'),
  },
};

type Command = (args: string[], io: CommandIo) => Promise<number>;

/** Runs the command line `args` (without `node` and the script) and returns the exit code. */
export async function main(args: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = args;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    const lines = Object.values(COMMANDS).map((c) => `  oncely ${c.summary}`);
    (name === undefined || name === '--help' || name === '-h' ? io.out : io.err)(
      ['usage:', ...lines].join('\n'),
    );
    return name === undefined || name === '--help' || name === '-h' ? 0 : 2;
  }
  return (await command.load()).run(rest, io);
}

function invokedDirectly(): boolean {
  // npm links bin files, so compare real paths rather than the URL as given.
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  const io: CommandIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      io.err(`oncely: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}

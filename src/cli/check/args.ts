/** The command line of `oncely check`, read into {@link CheckArgs}, or a usage error. */
import type { KeyFormat } from '../../protocol.ts';
import { MAX_TIMER_MS } from '../../timer-limit.ts';

/** What `oncely check` was asked to probe. */
export interface CheckArgs {
  url: URL;
  method: string;
  /** Sent on every request, in order, as given with `--header`. */
  headers: [string, string][];
  /** The request body; the same bytes for the first request and its replay. */
  body: string;
  json: boolean;
  timeoutMs: number;
  /** How keys are written: plain, or as the draft's §2.1 RFC 8941 string (`"…"`), as the client's `keyFormat`. */
  keyFormat: KeyFormat;
}

/** Defaults of `oncely check`. */
export const CHECK_DEFAULTS = {
  method: 'POST',
  body: '{}',
  timeoutMs: 10_000,
  keyFormat: 'token',
} as const;

const KEY_FORMATS: readonly string[] = ['token', 'sf-string'] satisfies KeyFormat[];

// RFC 9110 §9.2.1: safe methods are not guarded by an Idempotency-Key, so there is nothing to check.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Reads `args` (after `check`); a string is the usage error to print. */
export function parseCheckArgs(args: readonly string[]): CheckArgs | string {
  let url: string | undefined;
  let method: string = CHECK_DEFAULTS.method;
  let body: string = CHECK_DEFAULTS.body;
  let json = false;
  let timeoutMs: number = CHECK_DEFAULTS.timeoutMs;
  let keyFormat: KeyFormat = CHECK_DEFAULTS.keyFormat;
  const headers: [string, string][] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [flag, inline] = splitInline(arg);
    const value = (): string | undefined => {
      if (inline !== undefined) return inline;
      i++;
      return args[i];
    };
    switch (flag) {
      case '--json':
        if (inline !== undefined) return `--json takes no value`;
        json = true;
        break;
      case '--method':
      case '-X': {
        const given = value();
        if (given === undefined) return `${flag} needs a value`;
        if (!TOKEN.test(given)) return `invalid method '${given}'`;
        method = given.toUpperCase();
        if (SAFE_METHODS.has(method)) {
          return `${method} is a safe method: the Idempotency-Key draft guards unsafe ones (POST, PATCH, PUT, DELETE)`;
        }
        break;
      }
      case '--header':
      case '-H': {
        const given = value();
        if (given === undefined) return `${flag} needs a value`;
        const colon = given.indexOf(':');
        const name = colon === -1 ? '' : given.slice(0, colon).trim();
        if (!TOKEN.test(name)) return `invalid header '${given}': expected 'Name: value'`;
        if (name.toLowerCase() === 'idempotency-key') {
          return 'the Idempotency-Key header is set by each case; do not pass one';
        }
        const headerValue = given.slice(colon + 1).trim();
        // fetch takes bytes 0 to 255 only, and no NUL, CR or LF: refuse here, not on every case.
        if (!isHeaderValue(name, headerValue)) {
          return `invalid header '${given}': the value must be Latin-1 text without line breaks`;
        }
        headers.push([name, headerValue]);
        break;
      }
      case '--body':
      case '-d': {
        const given = value();
        if (given === undefined) return `${flag} needs a value`;
        body = given;
        break;
      }
      case '--timeout': {
        const given = value();
        const ms = Number(given);
        // Past MAX_TIMER_MS, Node's timers fire at once: every request would time out.
        if (given === undefined || !Number.isInteger(ms) || ms <= 0 || ms > MAX_TIMER_MS) {
          return `--timeout needs a positive whole number of milliseconds, at most ${MAX_TIMER_MS}`;
        }
        timeoutMs = ms;
        break;
      }
      case '--key-format': {
        const given = value();
        if (given === undefined || !KEY_FORMATS.includes(given)) {
          return `--key-format is 'token' or 'sf-string'`;
        }
        keyFormat = given as KeyFormat;
        break;
      }
      default:
        if (arg.startsWith('-')) return `unknown option '${arg}'`;
        if (url !== undefined) return `unexpected argument '${arg}'`;
        url = arg;
    }
  }
  if (url === undefined) return 'missing <url>';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `invalid URL '${url}'`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `invalid URL '${url}': expected http:// or https://`;
  }
  return { url: parsed, method, headers, body, json, timeoutMs, keyFormat };
}

function isHeaderValue(name: string, value: string): boolean {
  try {
    new Headers([[name, value]]);
    return true;
  } catch {
    return false;
  }
}

/** `--name=value` as `['--name', 'value']`; anything else as `[arg, undefined]`. */
function splitInline(arg: string): [string, string | undefined] {
  if (!arg.startsWith('--')) return [arg, undefined];
  const equals = arg.indexOf('=');
  return equals === -1 ? [arg, undefined] : [arg.slice(0, equals), arg.slice(equals + 1)];
}

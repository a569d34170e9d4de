/**
 * The file journal's on-disk format: an append-only log of lines, each `<crc32> <json>\n`, where
 * `<crc32>` is 8 lower-case hex digits of the CRC-32 of the JSON's UTF-8 bytes. JSON never holds a
 * raw newline, so after a torn write or a flipped byte the next line is found again and every
 * intact record survives. The first line is a header naming the format and its version.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { JOURNAL_FORMAT_VERSION, type JournalEntry, type PersistedBody } from './journal.ts';

/** The first line's content, so that a file that is not a journal is never taken for one. */
export const LOG_FORMAT = 'oncely-journal';

type StoredBody =
  | Exclude<PersistedBody, { type: 'bytes' } | { type: 'blob' }>
  | { type: 'bytes'; base64: string }
  | { type: 'blob'; base64: string; mediaType: string };

type StoredEntry = Omit<JournalEntry, 'request'> & {
  request: Omit<JournalEntry['request'], 'body'> & { body?: StoredBody };
};

export type Frame =
  | { op: 'header'; format: string; version: number }
  | { op: 'put'; entry: StoredEntry }
  | { op: 'delete'; id: string };

/** A line replay skipped. */
export interface BadLine {
  /** 1-based line number in the file as it was read. */
  line: number;
  /** Byte offset of its first byte. */
  offset: number;
  /** Its bytes, the newline included when it has one. */
  length: number;
  /** True for bytes after the last newline: a write torn by a crash. */
  torn: boolean;
  /**
   * Why it was skipped: `checksum mismatch`, `no checksum`, `bad JSON`, `not a journal frame`,
   * `torn write (no newline)`.
   */
  reason: string;
}

/** What replaying a log found. */
export interface ReplayResult {
  records: Map<string, JournalEntry>;
  /** The intact line of each live record, reused as is by compaction. */
  lines: Map<string, string>;
  /** Intact record frames (puts and deletes), live or dead. */
  frames: number;
  /** Lines skipped as torn or corrupt, in file order; a torn one can only be the last. */
  bad: BadLine[];
  /** Offset just after the last newline: what follows is torn, and must be cut before appending. */
  tornAt: number;
  /** True when an intact header line was read. */
  header: boolean;
  /** Format version of the header, when newer than this code reads. */
  newerVersion?: number;
}

/** One log line for `frame`. */
export function frameLine(frame: Frame): string {
  const json = JSON.stringify(frame);
  const sum = crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0');
  return `${sum} ${json}\n`;
}

export function headerLine(): string {
  return frameLine({ op: 'header', format: LOG_FORMAT, version: JOURNAL_FORMAT_VERSION });
}

export function deleteLine(id: string): string {
  return frameLine({ op: 'delete', id });
}

/** The log line of a put. Async only because a Blob body must be read. */
export async function putLine(entry: JournalEntry): Promise<string> {
  const body = entry.request.body;
  let stored: StoredBody | undefined;
  if (body?.type === 'bytes') stored = { type: 'bytes', base64: toBase64(body.value) };
  else if (body?.type === 'blob') {
    const bytes = new Uint8Array(await body.value.arrayBuffer());
    stored = { type: 'blob', base64: toBase64(bytes), mediaType: body.value.type };
  } else stored = body;
  const { body: _, ...request } = entry.request;
  const written = stored === undefined ? request : { ...request, body: stored };
  return frameLine({ op: 'put', entry: { ...entry, request: written } });
}

/** Replays a whole log. Never throws on bad content: bad lines are reported in the result. */
export function replay(data: Uint8Array): ReplayResult {
  const result: ReplayResult = {
    records: new Map(),
    lines: new Map(),
    frames: 0,
    bad: [],
    tornAt: data.length,
    header: false,
  };
  let start = 0;
  let line = 0;
  while (start < data.length) {
    line++;
    const newline = data.indexOf(0x0a, start);
    const end = newline === -1 ? data.length : newline + 1;
    const torn = newline === -1;
    if (torn) result.tornAt = start;
    const frame = torn ? 'torn write (no newline)' : parseLine(data.subarray(start, newline));
    if (typeof frame === 'string') {
      result.bad.push({ line, offset: start, length: end - start, torn, reason: frame });
    } else {
      apply(result, frame, Buffer.from(data.subarray(start, end)).toString('utf8'));
    }
    start = end;
  }
  return result;
}

function apply(result: ReplayResult, frame: Frame, line: string): void {
  if (frame.op === 'header') {
    result.header = true;
    if (frame.version > JOURNAL_FORMAT_VERSION) result.newerVersion = frame.version;
    return;
  }
  result.frames++;
  if (frame.op === 'delete') {
    result.records.delete(frame.id);
    result.lines.delete(frame.id);
    return;
  }
  result.records.set(frame.entry.id, decodeEntry(frame.entry));
  result.lines.set(frame.entry.id, line);
}

/** The frame a line holds, or why it holds none. */
function parseLine(line: Uint8Array): Frame | string {
  // 8 hex digits, a space, at least `{}`.
  const sum = Buffer.from(line.subarray(0, 8)).toString('latin1');
  if (line.length < 11 || line[8] !== 0x20 || !/^[0-9a-f]{8}$/.test(sum)) return 'no checksum';
  const json = line.subarray(9);
  if (crc32(json) !== Number.parseInt(sum, 16)) return 'checksum mismatch';
  let frame: unknown;
  try {
    frame = JSON.parse(Buffer.from(json).toString('utf8'));
  } catch {
    return 'bad JSON';
  }
  return isFrame(frame) ? frame : 'not a journal frame';
}

function isFrame(value: unknown): value is Frame {
  if (typeof value !== 'object' || value === null) return false;
  const frame = value as Record<string, unknown>;
  if (frame.op === 'header') return typeof frame.version === 'number';
  if (frame.op === 'delete') return typeof frame.id === 'string';
  if (frame.op !== 'put' || typeof frame.entry !== 'object' || frame.entry === null) return false;
  const entry = frame.entry as Record<string, unknown>;
  return typeof entry.id === 'string' && typeof entry.request === 'object';
}

function decodeEntry(stored: StoredEntry): JournalEntry {
  const body = stored.request.body;
  if (body?.type === 'bytes') {
    return withBody(stored, { type: 'bytes', value: fromBase64(body.base64) });
  }
  if (body?.type === 'blob') {
    const blob = new Blob([fromBase64(body.base64)], { type: body.mediaType });
    return withBody(stored, { type: 'blob', value: blob });
  }
  return stored as JournalEntry;
}

function withBody(entry: StoredEntry, body: PersistedBody): JournalEntry {
  return { ...entry, request: { ...entry.request, body } };
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

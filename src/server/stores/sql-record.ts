/**
 * The row layout the SQL stores (SQLite, PostgreSQL) share: one row per id, in-flight and completed
 * records in the same columns, so claim, takeOver and complete are single-row updates.
 */
import type { StoredResponse, StoreRecord } from './store.ts';
import { StoreError } from './store-error.ts';

/** Default table name of the SQL stores. */
export const DEFAULT_TABLE = 'oncely_records';

/** The columns, in the order {@link recordParams} gives their values. */
export const COLUMNS = [
  'id',
  'state',
  'fingerprint',
  'owner',
  'lease_until',
  'expires_at',
  'status',
  'headers',
  'body',
  'completed_at',
] as const;

/** A row as a driver returns it: numbers may come back as strings (pg BIGINT) or bigints. */
export interface RecordRow {
  state: string;
  fingerprint: string;
  owner: string | null;
  lease_until: number | string | bigint | null;
  expires_at: number | string | bigint;
  status: number | string | bigint | null;
  /** JSON text (SQLite) or already parsed (PostgreSQL JSONB). */
  headers: string | [string, string][] | null;
  body: Uint8Array | null;
  completed_at: number | string | bigint | null;
}

/** The column values of `record` under `id`, in {@link COLUMNS} order; headers as JSON text. */
export function recordParams(
  id: string,
  record: StoreRecord,
): [
  string,
  string,
  string,
  string | null,
  number | null,
  number,
  number | null,
  string | null,
  Uint8Array | null,
  number | null,
] {
  if (record.state === 'in-flight') {
    return [
      id,
      record.state,
      record.fingerprint,
      record.owner,
      record.leaseUntil,
      record.expiresAt,
      null,
      null,
      null,
      null,
    ];
  }
  const { status, headers, body } = record.response;
  return [
    id,
    record.state,
    record.fingerprint,
    null,
    null,
    record.expiresAt,
    status,
    JSON.stringify(headers),
    body,
    record.completedAt,
  ];
}

/** The record a row holds. A row this code did not write is a {@link StoreError}, not a guess. */
export function recordFromRow(row: RecordRow, operation: string): StoreRecord {
  if (row.state === 'in-flight') {
    return {
      state: 'in-flight',
      fingerprint: row.fingerprint,
      owner: String(row.owner),
      leaseUntil: Number(row.lease_until),
      expiresAt: Number(row.expires_at),
    };
  }
  if (row.state === 'completed') {
    const headers = typeof row.headers === 'string' ? JSON.parse(row.headers) : row.headers;
    const body = row.body ?? new Uint8Array(0);
    const response: StoredResponse = {
      status: Number(row.status),
      headers: headers ?? [],
      // A view, not a copy: drivers hand out Buffers, the interface promises a plain Uint8Array.
      body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    };
    return {
      state: 'completed',
      fingerprint: row.fingerprint,
      response,
      completedAt: Number(row.completed_at),
      expiresAt: Number(row.expires_at),
    };
  }
  throw new StoreError(operation, `unknown record state ${JSON.stringify(row.state)}`);
}

/**
 * `name` quoted as an SQL identifier, schema-qualified (`schema.table`) only where `qualified`
 * allows it. Only plain identifiers are accepted, since the name is spliced into SQL text.
 */
export function quoteTable(name: string, qualified: boolean): string {
  const parts = name.split('.');
  const plain = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
  if (parts.length > (qualified ? 2 : 1) || !parts.every((part) => plain.test(part))) {
    const example = qualified ? 'oncely_records or app.oncely_records' : 'oncely_records';
    throw new TypeError(
      `table must be a plain SQL identifier such as ${example}, not ${JSON.stringify(name)}`,
    );
  }
  return parts.map((part) => `"${part}"`).join('.');
}

/** A name derived from the table's for an index, such as `oncely_records_expires_at`. */
export function indexName(table: string, suffix: string): string {
  const base = table.split('.').pop() as string;
  return `"${`${base}_${suffix}`.slice(0, 63)}"`;
}

import { createHash } from 'node:crypto';
import { type RecordRow, recordFromRow } from './sql-record.ts';
import type { InFlightRecord, Store, StoreRecord } from './store.ts';
import { StoreError } from './store-error.ts';
import { toStoreError } from './to-store-error.ts';

/**
 * What {@link redisStore} needs of a client: node-redis's `sendCommand` (a client from
 * `createClient`, or a pool from `createClientPool`). Typed structurally so any node-redis 5 or 6
 * client fits, whatever modules and RESP version it was created with.
 */
export interface RedisCommander {
  sendCommand(
    args: ReadonlyArray<string | Buffer>,
    options?: { typeMapping?: Record<number, unknown>; timeout?: number },
  ): Promise<unknown>;
}

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * Prepended to every id to form the Redis key, so records can share a database with other data.
   * @default 'oncely:'
   */
  prefix?: string;
  /**
   * Longest wait for one command, in ms, queued or sent. While Redis is down node-redis queues
   * commands until it reconnects, and a Redis that stops answering leaves a sent command waiting
   * for TCP to give up; past this the operation fails with a {@link StoreError} instead of hanging
   * the request.
   * @default 5_000
   */
  commandTimeoutMs?: number;
  /** Clock, for tests. Redis itself deletes keys at `expiresAt` by its own clock. @default Date.now */
  now?: () => number;
}

/** A {@link Store} on Redis. */
export interface RedisStore extends Store {
  /** Resolves at once: the client belongs to the caller, who closes it. */
  close(): Promise<void>;
}

// The hash fields of a record, in the order the scripts and HMGET return them.
const FIELDS = [
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

// RESP's blob-string type byte ('$'): mapped to Buffer so bodies come back byte for byte, in RESP2
// and RESP3 alike, without importing node-redis at runtime.
const BLOB_STRING = 36;

// Each script takes KEYS[1] = the record's key and ARGV[1] = now (epoch ms), and treats a record
// past expires_at as absent even if Redis has not deleted it yet (clocks differ).
const HELD = `
local function held(owner)
  local v = redis.call('HMGET', KEYS[1], 'state', 'owner', 'expires_at', 'lease_until')
  return v[1] == 'in-flight' and v[2] == owner and v[3] and tonumber(v[3]) > tonumber(ARGV[1]),
    v[4], v[3]
end
`;

const SCRIPTS = {
  // ARGV: now, fingerprint, owner, leaseUntil, expiresAt, expireAt (integer ms).
  // Returns 0 when this call created the record, otherwise the live record's fields. (0, not
  // false: a RESP3 connection would get a boolean rather than a null for false.)
  claim: `
local expires = redis.call('HGET', KEYS[1], 'expires_at')
if expires and tonumber(expires) > tonumber(ARGV[1]) then
  return redis.call('HMGET', KEYS[1], ${FIELDS.map((field) => `'${field}'`).join(', ')})
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'in-flight', 'fingerprint', ARGV[2], 'owner', ARGV[3],
  'lease_until', ARGV[4], 'expires_at', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
return 0`,
  // ARGV: now, expected owner, expected leaseUntil, fingerprint, owner, leaseUntil, expiresAt, expireAt.
  takeOver: `${HELD}
local ok, lease = held(ARGV[2])
if not ok or tonumber(lease) ~= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[4], 'owner', ARGV[5], 'lease_until', ARGV[6],
  'expires_at', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[8])
return 1`,
  // ARGV: now, owner, leaseUntil, expireAt of leaseUntil. A lease that outruns expires_at moves
  // it, and the key's PEXPIREAT, along: a held record must not expire (Redis would delete it).
  renew: `${HELD}
local ok, _, expires = held(ARGV[2])
if not ok then return 0 end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[3])
if tonumber(ARGV[3]) > tonumber(expires) then
  redis.call('HSET', KEYS[1], 'expires_at', ARGV[3])
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
end
return 1`,
  // ARGV: now, owner, fingerprint, expiresAt, expireAt, status, headers, body, completedAt.
  complete: `${HELD}
if not held(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'completed', 'fingerprint', ARGV[3], 'expires_at', ARGV[4],
  'status', ARGV[6], 'headers', ARGV[7], 'body', ARGV[8], 'completed_at', ARGV[9])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1`,
  // ARGV: now, owner.
  release: `${HELD}
if not held(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
return 1`,
} as const;

type ScriptName = keyof typeof SCRIPTS;

const SHAS = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, source]) => [
    name,
    createHash('sha1').update(source).digest('hex'),
  ]),
) as Record<ScriptName, string>;

/** Redis wants an integer for PEXPIREAT; round up so Redis never deletes a record still live. */
const expireAt = (expiresAt: number): string => String(Math.ceil(expiresAt));

/**
 * A store on Redis for a fleet of server processes: each record is one hash with `PEXPIREAT` at
 * its `expiresAt`, so Redis deletes it; every primitive is one Lua script, so claiming and
 * completing take one round trip each and check the owner atomically.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { idempotency } from 'oncely/server';
 * import { redisStore } from 'oncely/server/redis';
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const guarded = idempotency({ store: redisStore(client, { prefix: 'shop:idem:' }) })(handler);
 * ```
 */
export function redisStore(client: RedisCommander, options: RedisStoreOptions = {}): RedisStore {
  const prefix = options.prefix ?? 'oncely:';
  const timeout = options.commandTimeoutMs ?? 5_000;
  const now = options.now ?? Date.now;
  const commandOptions = { typeMapping: { [BLOB_STRING]: Buffer }, timeout };

  // node-redis applies `timeout` only while a command waits to be written: once it is on the
  // socket, a Redis that stops answering (frozen, or cut off without a reset) leaves it waiting
  // until TCP gives up, many minutes. So the wait is bounded here too; the late reply, if any, is
  // dropped (a command that timed out may still have run, as documented).
  const bounded = (operation: string, args: (string | Buffer)[]): Promise<unknown> => {
    const reply = client.sendCommand(args, commandOptions);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreError(operation, `no reply from Redis within ${timeout} ms`)),
        timeout,
      );
    });
    return Promise.race([reply, expired]).finally(() => clearTimeout(timer));
  };

  const send = async (operation: string, args: (string | Buffer)[]): Promise<unknown> => {
    try {
      return await bounded(operation, args);
    } catch (error) {
      throw toStoreError(operation, error);
    }
  };

  const script = async (name: ScriptName, id: string, args: (string | Buffer)[]) => {
    const tail = ['1', prefix + id, String(now()), ...args];
    try {
      return await bounded(name, ['EVALSHA', SHAS[name], ...tail]);
    } catch (error) {
      // NOSCRIPT is Redis's error code for a script not in its cache (after a restart or SCRIPT
      // FLUSH); EVAL runs it and caches it again.
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) {
        throw toStoreError(name, error);
      }
    }
    return send(name, ['EVAL', SCRIPTS[name], ...tail]);
  };

  const changed = async (name: ScriptName, id: string, args: (string | Buffer)[]) =>
    Number(await script(name, id, args)) === 1;

  // `after`: the time the record must outlive; claim's script has already checked it.
  const fromFields = (
    reply: unknown,
    operation: string,
    after: number,
  ): StoreRecord | undefined => {
    if (!Array.isArray(reply) || reply.length !== FIELDS.length) {
      throw new StoreError(operation, 'unexpected reply from Redis');
    }
    const [state, fingerprint, owner, lease, expires, status, headers, body, completedAt] =
      reply.map((value) => (value === null || value === undefined ? null : (value as Buffer)));
    if (state === null || expires === null || !(Number(String(expires)) > after)) return undefined;
    const row: RecordRow = {
      state: String(state),
      fingerprint: String(fingerprint ?? ''),
      owner: owner === null ? null : String(owner),
      lease_until: lease === null ? null : String(lease),
      expires_at: String(expires),
      status: status === null ? null : String(status),
      headers: headers === null ? null : String(headers),
      body: body ?? null,
      completed_at: completedAt === null ? null : String(completedAt),
    };
    return recordFromRow(row, operation);
  };

  const inFlightArgs = (record: InFlightRecord): string[] => [
    record.fingerprint,
    record.owner,
    String(record.leaseUntil),
    String(record.expiresAt),
    expireAt(record.expiresAt),
  ];

  return {
    async claim(id, record) {
      const reply = await script('claim', id, inFlightArgs(record));
      if (reply === 0) return undefined;
      const existing = fromFields(reply, 'claim', Number.NEGATIVE_INFINITY);
      if (existing === undefined) throw new StoreError('claim', 'unexpected reply from Redis');
      return existing;
    },
    takeOver: (id, expected, record) =>
      changed('takeOver', id, [
        expected.owner,
        String(expected.leaseUntil),
        ...inFlightArgs(record),
      ]),
    renew: (id, owner, leaseUntil) =>
      changed('renew', id, [owner, String(leaseUntil), expireAt(leaseUntil)]),
    complete(id, owner, record) {
      const { status, headers, body } = record.response;
      return changed('complete', id, [
        owner,
        record.fingerprint,
        String(record.expiresAt),
        expireAt(record.expiresAt),
        String(status),
        JSON.stringify(headers),
        Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        String(record.completedAt),
      ]);
    },
    release: (id, owner) => changed('release', id, [owner]),
    async get(id) {
      const time = now();
      return fromFields(await send('get', ['HMGET', prefix + id, ...FIELDS]), 'get', time);
    },
    async close() {},
  };
}

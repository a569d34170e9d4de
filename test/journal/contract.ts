/**
 * The contract every journal passes (the unstorage `testDriver` pattern): a new journal is a file in
 * src/journal plus one `testJournal(...)` line in its test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import {
  ENTRY_STATE,
  JOURNAL_FORMAT_VERSION,
  type Journal,
  type JournalEntry,
  withJournalLock,
} from '../../src/journal/journal.ts';
import { deserializeRequest, serializeRequest } from '../../src/journal/serialize.ts';

/** What a journal's test provides: a fresh journal, and for durable ones a way to open it again. */
export interface JournalHarness {
  journal: Journal;
  /** Closes nothing; opens a second journal on the same storage, as after a restart. */
  reopen?: () => Promise<Journal> | Journal;
  cleanup?: () => Promise<void>;
}

let sequence = 0;

/** A valid record with a JSON body; `overrides` replace fields. */
export function makeEntry(overrides: Partial<JournalEntry> = {}): JournalEntry {
  sequence++;
  const createdAt = 1_700_000_000_000 + sequence;
  return {
    version: JOURNAL_FORMAT_VERSION,
    id: `op-${sequence}-${Math.random().toString(36).slice(2, 8)}`,
    name: 'charge',
    key: `key-${sequence}`,
    request: serializeRequest({
      url: 'https://api.example/charges',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      json: { amount: sequence, currency: 'eur' },
    }),
    input: { amount: sequence },
    attempts: 0,
    state: ENTRY_STATE.pending,
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

async function bodyBytes(entry: JournalEntry | undefined): Promise<number[]> {
  if (!entry) throw new Error('no entry');
  const { body } = deserializeRequest(entry.request);
  return [...new Uint8Array(await new Response(body).arrayBuffer())];
}

function blobOf(entry: JournalEntry | undefined): Blob {
  const body = entry?.request.body;
  if (body?.type !== 'blob') throw new Error(`expected a blob body, got ${body?.type}`);
  return body.value;
}

/**
 * Registers the contract tests for one journal. `durable` journals must also keep everything across
 * a reopen, through `reopen`.
 */
export function testJournal(
  name: string,
  factory: () => Promise<JournalHarness>,
  options: { durable: boolean },
): void {
  describe(`${name} journal contract`, () => {
    const opened: JournalHarness[] = [];
    const extra: Journal[] = [];
    const setup = async (): Promise<JournalHarness> => {
      const harness = await factory();
      opened.push(harness);
      return harness;
    };
    const reopen = async (harness: JournalHarness): Promise<Journal> => {
      await harness.journal.close();
      const again = await (harness.reopen as () => Promise<Journal>)();
      extra.push(again);
      return again;
    };

    afterEach(async () => {
      for (const journal of extra.splice(0)) await journal.close();
      for (const harness of opened.splice(0)) {
        await harness.journal.close();
        await harness.cleanup?.();
      }
    });

    it('puts, gets, lists oldest first and deletes', async () => {
      const { journal } = await setup();
      await journal.open();
      const second = makeEntry({ createdAt: 20 });
      const first = makeEntry({ createdAt: 10 });
      await journal.put(second);
      await journal.put(first);
      expect(await journal.get(first.id)).toEqual(first);
      expect((await journal.list()).map((entry) => entry.id)).toEqual([first.id, second.id]);
      expect(await journal.delete(first.id)).toBe(true);
      expect(await journal.delete(first.id)).toBe(false);
      expect(await journal.get(first.id)).toBeUndefined();
      expect((await journal.list()).map((entry) => entry.id)).toEqual([second.id]);
    });

    it('overwrites a record with the same id', async () => {
      const { journal } = await setup();
      const entry = makeEntry();
      await journal.put(entry);
      await journal.put({ ...entry, attempts: 3, state: ENTRY_STATE.failed });
      const list = await journal.list();
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ attempts: 3, state: 'failed' });
    });

    it('updates fields atomically and clears those patched to undefined', async () => {
      const { journal } = await setup();
      const entry = makeEntry({ nextAttemptAt: 5, lastError: { code: 'NETWORK', message: 'x' } });
      await journal.put(entry);
      const updated = await journal.update(entry.id, {
        attempts: 1,
        state: ENTRY_STATE.running,
        nextAttemptAt: undefined,
        updatedAt: 42,
      });
      expect(updated).toMatchObject({ attempts: 1, state: 'running', updatedAt: 42 });
      expect(updated && 'nextAttemptAt' in updated).toBe(false);
      expect(updated?.lastError).toEqual({ code: 'NETWORK', message: 'x' });
      expect(await journal.get(entry.id)).toEqual(updated);
      expect(await journal.update('missing', { attempts: 1 })).toBeUndefined();
      expect(await journal.get('missing')).toBeUndefined();
    });

    it('hands out copies: changing a returned or given record changes nothing stored', async () => {
      const { journal } = await setup();
      const entry = makeEntry();
      await journal.put(entry);
      entry.attempts = 99;
      const read = await journal.get(entry.id);
      expect(read?.attempts).toBe(0);
      if (read) read.state = ENTRY_STATE.expired;
      expect((await journal.get(entry.id))?.state).toBe('pending');
    });

    it('copies a record and a patch at the call, not when the write runs', async () => {
      const { journal } = await setup();
      const entry = makeEntry();
      const put = journal.put(entry);
      entry.attempts = 99;
      entry.request.headers.push(['authorization', 'Bearer secret']);
      await put;
      const stored = await journal.get(entry.id);
      expect(stored?.attempts).toBe(0);
      expect(JSON.stringify(stored)).not.toContain('secret');
      const patch = { attempts: 1 };
      const update = journal.update(entry.id, patch);
      patch.attempts = 7;
      await update;
      expect((await journal.get(entry.id))?.attempts).toBe(1);
    });

    it('keeps binary bodies: bytes, typed-array views and Blobs', async () => {
      const { journal } = await setup();
      const buffer = new Uint8Array([0, 1, 2, 250, 255, 10, 13]).buffer;
      const bytes = makeEntry({
        request: serializeRequest({ url: 'https://x/', method: 'PUT', body: buffer }),
      });
      const view = makeEntry({
        request: serializeRequest({
          url: 'https://x/',
          method: 'PUT',
          body: new Uint16Array([1, 0xffff, 7]).subarray(1),
        }),
      });
      const blob = makeEntry({
        request: serializeRequest({
          url: 'https://x/',
          method: 'PUT',
          body: new Blob([new Uint8Array([9, 0, 9])], { type: 'image/png' }),
        }),
      });
      await Promise.all([journal.put(bytes), journal.put(view), journal.put(blob)]);
      expect(await bodyBytes(await journal.get(bytes.id))).toEqual([0, 1, 2, 250, 255, 10, 13]);
      expect(await bodyBytes(await journal.get(view.id))).toEqual([255, 255, 7, 0]);
      const stored = await journal.get(blob.id);
      expect(stored?.request.body?.type).toBe('blob');
      expect(blobOf(stored).type).toBe('image/png');
      expect(await bodyBytes(stored)).toEqual([9, 0, 9]);
    });

    it('keeps text, URLSearchParams and FormData bodies', async () => {
      const { journal } = await setup();
      const form = new FormData();
      form.append('a', '1');
      form.append('a', 'two words');
      const entries = [
        makeEntry({ request: serializeRequest({ url: 'https://x/', body: 'plain ✓' }) }),
        makeEntry({
          request: serializeRequest({ url: 'https://x/', body: new URLSearchParams('q=a+b&r=1') }),
        }),
        makeEntry({ request: serializeRequest({ url: 'https://x/', body: form }) }),
      ];
      for (const entry of entries) await journal.put(entry);
      const [text, params, fields] = await Promise.all(entries.map((e) => journal.get(e.id)));
      expect(text?.request.body).toEqual({ type: 'text', value: 'plain ✓' });
      expect(params?.request.body).toEqual({ type: 'params', value: 'q=a+b&r=1' });
      expect(fields?.request.body).toEqual({
        type: 'form',
        value: [
          ['a', '1'],
          ['a', 'two words'],
        ],
      });
    });

    it('never stores secret headers', async () => {
      const { journal } = await setup();
      const entry = makeEntry({
        request: serializeRequest(
          {
            url: 'https://x/',
            method: 'POST',
            headers: {
              Authorization: 'Bearer s3cr3t-token',
              Cookie: 'session=s3cr3t-cookie',
              'Proxy-Authorization': 'Basic s3cr3t-proxy',
              'X-Api-Key': 's3cr3t-key',
              'X-Trace': 'visible',
            },
            json: { ok: true },
          },
          { secretHeaders: ['x-api-key'] },
        ),
      });
      await journal.put(entry);
      const stored = await journal.get(entry.id);
      expect(stored?.request.headers).toEqual([['x-trace', 'visible']]);
      expect(JSON.stringify(await journal.list())).not.toMatch(/s3cr3t/);
    });

    it('applies 64 concurrent puts, and writes to one id in call order', async () => {
      const { journal } = await setup();
      const entries = Array.from({ length: 64 }, () => makeEntry());
      await Promise.all(entries.map((entry) => journal.put(entry)));
      expect(await journal.list()).toHaveLength(64);
      const target = entries[0] as JournalEntry;
      await Promise.all(
        Array.from({ length: 10 }, (_, attempts) => journal.update(target.id, { attempts })),
      );
      expect((await journal.get(target.id))?.attempts).toBe(9);
      await Promise.all(entries.map((entry) => journal.delete(entry.id)));
      expect(await journal.list()).toEqual([]);
    });

    it('refuses a record it cannot keep whole with a JournalError, and keeps nothing of it', async () => {
      const { journal } = await setup();
      const entry = { ...makeEntry(), input: { callback: () => 'not data' } };
      const error = await journal.put(entry).catch((e: unknown) => e);
      expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
      expect((error as { action?: string }).action).toBe('put');
      expect(await journal.get(entry.id)).toBeUndefined();
      const fine = makeEntry();
      await journal.put(fine);
      expect((await journal.list()).map((e) => e.id)).toEqual([fine.id]);
    });

    it('grants its lock to one holder at a time', async () => {
      const { journal } = await setup();
      const first = await journal.lock();
      expect(first).toBeDefined();
      expect(await journal.lock()).toBeUndefined();
      const waiting = journal.lock({ wait: true });
      await first?.release();
      const second = await waiting;
      expect(second).toBeDefined();
      await second?.release();
      expect(await withJournalLock(journal, async () => 'ran')).toBe('ran');
    });

    it('stops waiting for its lock when the signal aborts', async () => {
      const { journal } = await setup();
      const held = await journal.lock();
      const controller = new AbortController();
      const waiting = journal.lock({ wait: true, signal: controller.signal });
      controller.abort(new Error('gave up'));
      await expect(waiting).rejects.toThrow('gave up');
      await held?.release();
      const again = await journal.lock();
      expect(again).toBeDefined();
      await again?.release();
    });

    it('refuses use after close with a JournalError', async () => {
      const harness = await setup();
      await harness.journal.close();
      const error = await harness.journal.put(makeEntry()).catch((e: unknown) => e);
      expect(isOncelyError(error, 'JOURNAL_FAILED')).toBe(true);
    });

    it(`says it is ${options.durable ? '' : 'not '}durable`, async () => {
      const { journal, reopen } = await setup();
      expect(journal.durable).toBe(options.durable);
      expect(reopen !== undefined).toBe(options.durable);
    });

    if (!options.durable) return;

    it('keeps every record across a reopen', async () => {
      const harness = await setup();
      const { journal } = harness;
      const entries = Array.from({ length: 20 }, () => makeEntry());
      await Promise.all(entries.map((entry) => journal.put(entry)));
      await journal.update((entries[3] as JournalEntry).id, { state: ENTRY_STATE.running });
      await journal.delete((entries[5] as JournalEntry).id);
      const blob = makeEntry({
        request: serializeRequest({ url: 'https://x/', body: new Blob(['blob ✓']) }),
      });
      await journal.put(blob);
      const before = await journal.list();
      const again = await reopen(harness);
      const after = await again.list();
      expect(after).toHaveLength(20);
      expect(after.map((entry) => entry.id)).toEqual(before.map((entry) => entry.id));
      expect((await again.get((entries[3] as JournalEntry).id))?.state).toBe('running');
      expect(await again.get((entries[5] as JournalEntry).id)).toBeUndefined();
      expect(await blobOf(await again.get(blob.id)).text()).toBe('blob ✓');
    });
  });
}

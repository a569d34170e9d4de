import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Journals from '../../src/browser.ts';
import type * as Serialize from '../../src/journal/serialize.ts';
import { launchChromium } from '../support/chromium.ts';
import { service } from '../support/services.ts';

declare global {
  var journals: {
    indexedDbJournal: typeof Journals.indexedDbJournal;
    serializeRequest: typeof Serialize.serializeRequest;
    deserializeRequest: typeof Serialize.deserializeRequest;
  };
  var held: Awaited<ReturnType<ReturnType<typeof Journals.indexedDbJournal>['lock']>>;
}

const executablePath = service('chromium');

function bundle() {
  return build({
    entryPoints: [new URL('./fixtures/browser-entry.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

describe('oncely/browser entry', () => {
  it('bundles for the browser without any Node module or the file journal', async () => {
    // esbuild's browser platform fails on a `node:` import, and the metafile lists every input.
    const inputs = Object.keys((await bundle()).metafile.inputs);
    expect(inputs.some((input) => input.includes('idb-keyval'))).toBe(true);
    expect(inputs.filter((input) => /^node:|journal\/(file|lock-file)/.test(input))).toEqual([]);
  });
});

describe.skipIf(!executablePath)('indexedDbJournal in Chromium', () => {
  let browser: Browser;
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    const script = (await bundle()).outputFiles[0]?.text ?? '';
    server = createServer((request, response) => {
      if (request.url === '/bundle.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      } else {
        response
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<!doctype html><script type="module" src="/bundle.js"></script>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium(executablePath as string);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function open(page: Page): Promise<void> {
    await page.goto(origin);
    await page.waitForFunction(() => globalThis.journals !== undefined);
  }

  it('keeps a record with its Blob body across a reload, with no secret in it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await open(page);
    await page.evaluate(async () => {
      const journal = journals.indexedDbJournal({ database: 'reload' });
      const now = Date.now();
      await journal.put({
        version: 1,
        id: 'op-1',
        name: 'upload',
        key: 'key-1',
        request: journals.serializeRequest({
          url: '/photos',
          method: 'PUT',
          headers: { authorization: 'Bearer s3cr3t', 'x-trace': 't1' },
          body: new Blob([new Uint8Array([137, 80, 78, 71, 0, 255])], { type: 'image/png' }),
        }),
        input: { album: 'a' },
        attempts: 0,
        state: 'pending',
        createdAt: now,
        updatedAt: now,
      });
      await journal.update('op-1', { state: 'running', attempts: 1 });
    });
    await page.reload();
    await page.waitForFunction(() => globalThis.journals !== undefined);
    const after = await page.evaluate(async () => {
      const journal = journals.indexedDbJournal({ database: 'reload' });
      const [entry] = await journal.list();
      const body = entry?.request.body;
      const blob = body?.type === 'blob' ? body.value : undefined;
      const sent = entry && journals.deserializeRequest(entry.request);
      return {
        id: entry?.id,
        state: entry?.state,
        attempts: entry?.attempts,
        headers: entry?.request.headers,
        isBlob: blob instanceof Blob,
        type: blob?.type,
        bytes: blob ? [...new Uint8Array(await blob.arrayBuffer())] : [],
        sentBodyIsBlob: sent?.body instanceof Blob,
        json: JSON.stringify(entry?.request.headers),
      };
    });
    expect(after).toEqual({
      id: 'op-1',
      state: 'running',
      attempts: 1,
      headers: [['x-trace', 't1']],
      isBlob: true,
      type: 'image/png',
      bytes: [137, 80, 78, 71, 0, 255],
      sentBodyIsBlob: true,
      json: '[["x-trace","t1"]]',
    });
    await context.close();
  });

  it('commits every write with strict durability', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await open(page);
    const seen = await page.evaluate(async () => {
      const durabilities: string[] = [];
      const transaction = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args) {
        const created = transaction.apply(this, args);
        durabilities.push(`${created.mode}:${created.durability}`);
        return created;
      } as typeof transaction;
      const journal = journals.indexedDbJournal({ database: 'strict' });
      const now = Date.now();
      const request = journals.serializeRequest({ url: '/x', json: { a: 1 } });
      const entry = { version: 1, id: 'a', name: 'n', key: 'k', request, attempts: 0 };
      await journal.put({ ...entry, state: 'pending', createdAt: now, updatedAt: now });
      await journal.update('a', { attempts: 1 });
      await journal.delete('a');
      await journal.list();
      return durabilities;
    });
    expect(seen).toEqual([
      'readwrite:strict',
      'readwrite:strict',
      'readwrite:strict',
      'readonly:default',
    ]);
    await context.close();
  });

  it('turns a full storage quota into a JournalError with quota: true', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await open(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 64 * 1024 });
    const outcome = await page.evaluate(async () => {
      const journal = journals.indexedDbJournal({ database: 'quota' });
      const now = Date.now();
      const request = journals.serializeRequest({
        url: '/big',
        method: 'PUT',
        body: new Uint8Array(4 * 1024 * 1024).fill(7),
      });
      try {
        await journal.put({
          version: 1,
          id: 'big',
          name: 'n',
          key: 'k',
          request,
          attempts: 0,
          state: 'pending',
          createdAt: now,
          updatedAt: now,
        });
        return { thrown: false };
      } catch (error) {
        const e = error as { code?: string; quota?: boolean; action?: string; cause?: Error };
        return { code: e.code, quota: e.quota, action: e.action, cause: e.cause?.name };
      }
    });
    expect(outcome).toEqual({
      code: 'JOURNAL_FAILED',
      quota: true,
      action: 'put',
      cause: 'QuotaExceededError',
    });
    await context.close();
  });

  it('fails at once, not forever, while the app holds open the database it must add its store to', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await open(page);
    const outcome = await page.evaluate(async () => {
      // The app's own connection to its database, with no versionchange handler (as idb's openDB).
      const app = await new Promise<IDBDatabase>((resolve) => {
        const request = indexedDB.open('shop', 1);
        request.onupgradeneeded = () => request.result.createObjectStore('products');
        request.onsuccess = () => resolve(request.result);
      });
      const journal = journals.indexedDbJournal({ database: 'shop' });
      const now = Date.now();
      const request = journals.serializeRequest({ url: '/x', json: { a: 1 } });
      const entry = { version: 1, id: 'a', name: 'n', key: 'k', request, attempts: 0 };
      const put = () =>
        Promise.race([
          journal.put({ ...entry, state: 'pending', createdAt: now, updatedAt: now }).then(
            () => 'written',
            (error: { code?: string }) => error.code,
          ),
          new Promise((resolve) => setTimeout(() => resolve('hangs'), 2_000)),
        ]);
      const whileHeld = [await put(), await put()];
      app.close(); // the upgrade adding the journal's store runs now
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { whileHeld, after: await put(), ids: (await journal.list()).map((e) => e.id) };
    });
    expect(outcome).toEqual({
      whileHeld: ['JOURNAL_FAILED', 'JOURNAL_FAILED'],
      after: 'written',
      ids: ['a'],
    });
    await context.close();
  });

  it('lets one tab at a time hold the resume lock, and hands it on when that tab closes', async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    const second = await context.newPage();
    await Promise.all([open(first), open(second)]);
    const take = (page: Page, wait: boolean): Promise<boolean> =>
      page.evaluate(async (wait) => {
        globalThis.held = await journals.indexedDbJournal({ database: 'tabs' }).lock({ wait });
        return globalThis.held !== undefined;
      }, wait);

    expect(await take(first, false)).toBe(true);
    expect(await take(second, false)).toBe(false);
    // Released explicitly: the other tab gets it.
    await first.evaluate(() => globalThis.held?.release());
    expect(await take(second, false)).toBe(true);
    expect(await take(first, false)).toBe(false);
    // A tab that closes (or crashes) while holding the lock loses it; the waiting tab gets it.
    const waiting = take(first, true);
    await second.close();
    expect(await waiting).toBe(true);
    await context.close();
  });
});

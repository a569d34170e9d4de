import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Browsers from '../../src/browser.ts';
import type * as Client from '../../src/index.ts';
import { type LedgerServer, startLedgerServer } from '../crash/ledger-server.ts';
import { launchChromium } from '../support/chromium.ts';
import { service } from '../support/services.ts';

type Summary = Awaited<ReturnType<Client.Client['resume']>>;

declare global {
  var oncely: {
    createClient: typeof Client.createClient;
    indexedDbJournal: typeof Browsers.indexedDbJournal;
  };
  var client: Client.Client;
  var ledger: Client.Operation<{ opId: string }>;
  var settled: string[];
  var resumed: Promise<Summary> | undefined;
  var summary: Summary | undefined;
}

const executablePath = service('chromium');

describe.skipIf(!executablePath)('durable operations in Chromium (IndexedDB journal)', () => {
  let browser: Browser;
  let server: LedgerServer;
  let inputs: string[];

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [new URL('./fixtures/entry.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    inputs = Object.keys(bundle.metafile.inputs);
    server = await startLedgerServer({
      '/': {
        type: 'text/html',
        body: '<!doctype html><script type="module" src="/bundle.js"></script>',
      },
      '/bundle.js': { type: 'text/javascript', body: bundle.outputFiles[0]?.text ?? '' },
    });
    browser = await launchChromium(executablePath as string);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Loads the app: a client on IndexedDB, with the `ledger` operation defined. */
  async function open(page: Page): Promise<void> {
    if (page.url() === 'about:blank') await page.goto(server.origin);
    await page.waitForFunction(() => globalThis.oncely !== undefined);
    await page.evaluate(() => {
      globalThis.settled = [];
      globalThis.client = oncely.createClient({
        journal: oncely.indexedDbJournal({ database: 'app' }),
        retry: { backoffBase: 5, backoffCap: 20 },
        headers: () => ({ authorization: 'Bearer current' }),
      });
      globalThis.ledger = client.operation('ledger', {
        request: (input: { opId: string }) => ({ url: '/effects', method: 'POST', json: input }),
        onSuccess: (_response, input) => {
          settled.push(input.opId);
        },
      });
    });
  }

  /** Starts an operation the server holds, and waits until it is in flight. */
  async function startHeld(page: Page, opId: string) {
    const held = server.hold(opId);
    await page.evaluate((opId) => {
      ledger.run({ opId }).catch(() => {});
    }, opId);
    await held.entered;
    return held;
  }

  const keysOf = (opId: string) =>
    server.attempts.filter((attempt) => attempt.opId === opId).map((attempt) => attempt.key);

  async function until(check: () => boolean | Promise<boolean>) {
    const end = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('bundles the client and the IndexedDB journal without any Node module', () => {
    expect(inputs.some((input) => input.includes('operations/create-operations'))).toBe(true);
    expect(inputs.filter((input) => /^node:|journal\/(file|lock-file)/.test(input))).toEqual([]);
  });

  it('finishes an operation after a reload in flight, with the same key and one effect', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await open(page);
    const held = await startHeld(page, 'reload-1');

    await page.reload(); // the in-flight fetch dies with the page
    await open(page);
    const journaled = await page.evaluate(async () => (await client.journal.list()).length);
    expect(journaled).toBe(1);
    await page.evaluate(() => {
      globalThis.resumed = client.resume();
    });
    // The resumed attempt reaches the server while the first one is still held there.
    await until(() => keysOf('reload-1').length === 2);
    held.release();
    const after = await page.evaluate(async () => {
      const summary = await globalThis.resumed;
      return {
        resumed: summary?.resumed,
        succeeded: summary?.succeeded.length,
        settled: globalThis.settled,
        left: (await client.journal.list()).length,
      };
    });
    expect(after).toEqual({ resumed: 1, succeeded: 1, settled: ['reload-1'], left: 0 });
    const keys = keysOf('reload-1');
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(1);
    expect(server.effects.get('reload-1')).toBe(1);
    // The token is never journaled: the resumed attempt got it from the headers hook.
    const resumedAttempt = server.attempts.filter((a) => a.opId === 'reload-1')[1];
    expect(resumedAttempt?.authorization).toBe('Bearer current');
    await context.close();
  });

  it('leaves alone an operation another live tab is sending', async () => {
    const context = await browser.newContext();
    const [sending, resuming] = [await context.newPage(), await context.newPage()];
    await Promise.all([open(sending), open(resuming)]);
    const held = await startHeld(sending, 'live-1');
    const summary = await resuming.evaluate(async () => {
      const summary = await client.resume();
      return { locked: summary.locked, resumed: summary.resumed };
    });
    expect(summary).toEqual({ locked: false, resumed: 0 });
    held.release();
    await until(async () => (await sending.evaluate(() => settled)).includes('live-1'));
    expect(keysOf('live-1')).toHaveLength(1);
    expect(server.effects.get('live-1')).toBe(1);
    expect(await resuming.evaluate(() => settled)).toEqual([]);
    await context.close();
  });

  it('lets one of two tabs resuming at once send the operation (Web Locks)', async () => {
    const context = await browser.newContext();
    const crashed = await context.newPage();
    await open(crashed);
    const held = await startHeld(crashed, 'tabs-1');
    await crashed.close(); // the tab that ran it is gone; its record stays in IndexedDB

    const tabs = [await context.newPage(), await context.newPage()];
    await Promise.all(tabs.map(open));
    await Promise.all(
      tabs.map((tab) =>
        tab.evaluate(() => {
          globalThis.summary = undefined;
          globalThis.resumed = client.resume().then((summary) => {
            globalThis.summary = summary;
            return summary;
          });
        }),
      ),
    );
    const lockedOut = async () => {
      const states = await Promise.all(tabs.map((tab) => tab.evaluate(() => summary?.locked)));
      return states.includes(true);
    };
    // One tab sends (and holds the lock while the server holds the request); the other is refused.
    await until(async () => keysOf('tabs-1').length >= 2 && (await lockedOut()));
    held.release();
    const summaries = await Promise.all(
      tabs.map((tab) =>
        tab.evaluate(async () => {
          const summary = await globalThis.resumed;
          return {
            locked: summary?.locked,
            resumed: summary?.resumed,
            settled: globalThis.settled,
          };
        }),
      ),
    );
    expect(summaries.map((s) => s.locked).sort()).toEqual([false, true]);
    expect(summaries.map((s) => s.resumed).sort()).toEqual([0, 1]);
    expect(summaries.flatMap((s) => s.settled)).toEqual(['tabs-1']);
    const keys = keysOf('tabs-1');
    expect(keys).toHaveLength(2); // the dead tab's attempt and one resumed attempt
    expect(new Set(keys).size).toBe(1);
    expect(server.effects.get('tabs-1')).toBe(1);
    expect(await tabs[0]?.evaluate(async () => (await client.journal.list()).length)).toBe(0);
    await context.close();
  });

  it('rejects with JournalError and sends nothing where storage and Web Locks are denied', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await open(page);
    // A sandboxed iframe has an opaque origin: IndexedDB and navigator.locks.request both refuse.
    const outcome = await page.evaluate(async () => {
      const code = await (await fetch('/bundle.js')).text();
      const frame = document.createElement('iframe');
      frame.setAttribute('sandbox', 'allow-scripts');
      frame.srcdoc = `<script type="module">${code}
        const client = oncely.createClient({ journal: oncely.indexedDbJournal() });
        const op = client.operation('x', {
          request: () => ({ url: '${location.origin}/effects', method: 'POST', json: { opId: 'sandboxed-1' } }),
        });
        op.run(1).then(() => parent.postMessage('sent', '*'), (e) => parent.postMessage(e.code ?? e.name, '*'));
      </script>`;
      const answer = new Promise((resolve) => addEventListener('message', (m) => resolve(m.data)));
      document.body.append(frame);
      return answer;
    });
    expect(outcome).toBe('JOURNAL_FAILED');
    expect(keysOf('sandboxed-1')).toEqual([]);
    await context.close();
  });

  it('never lets another tab resume an operation whose run has journaled it but not yet locked it', async () => {
    const context = await browser.newContext();
    const [running, resuming] = [await context.newPage(), await context.newPage()];
    await Promise.all([open(running), open(resuming)]);
    const settledIn = async () =>
      Promise.all([running, resuming].map((tab) => tab.evaluate(() => settled)));
    await running.evaluate(() => {
      // A busy main thread: the operation's Web Lock is asked for 300 ms late.
      const request = navigator.locks.request.bind(navigator.locks) as (
        ...args: unknown[]
      ) => Promise<unknown>;
      Object.assign(navigator.locks, {
        request: (name: string, ...rest: unknown[]) =>
          name.startsWith('oncely:operation:')
            ? new Promise((wait) => setTimeout(wait, 300)).then(() => request(name, ...rest))
            : request(name, ...rest),
      });
      ledger.run({ opId: 'race-1' }).catch(() => {});
    });
    // The other tab resumes as soon as the record is in IndexedDB.
    await until(async () => (await resuming.evaluate(() => client.journal.list())).length > 0);
    const summary = await resuming.evaluate(async () => (await client.resume()).resumed);
    await until(async () => (await settledIn()).flat().length > 0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(summary).toBe(0);
    expect(await settledIn()).toEqual([['race-1'], []]);
    expect(keysOf('race-1')).toHaveLength(1);
    await context.close();
  });
});

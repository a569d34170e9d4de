import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Checkout, startCheckout } from '../../examples/browser-checkout/serve.ts';
import { service } from '../support/services.ts';
import { finished, spawnExample, waitForOutput } from './support.ts';

const executablePath = service('chromium');

describe.skipIf(!executablePath)('examples/browser-checkout in Chromium', () => {
  let browser: Browser;
  let checkout: Checkout;

  beforeAll(async () => {
    [checkout, browser] = await Promise.all([
      startCheckout({ paymentMs: 20 }),
      chromium.launch({
        executablePath,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await checkout?.close();
  });

  const status = (page: Page, state: string) =>
    page.waitForSelector(`#status[data-state="${state}"]`, { timeout: 10_000 });

  async function until(check: () => boolean) {
    const end = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('survives a reload mid-payment: one charge, one key, and the page shows paid', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: Error[] = [];
    page.on('pageerror', (error) => errors.push(error));
    await page.goto(`${checkout.origin}/?order=order-7`);
    await status(page, 'unpaid');

    const held = checkout.holdNextPayment();
    await page.click('#pay');
    await held.entered; // the charge is being made on the server when the page goes away
    await page.reload();

    const resuming = await status(page, 'paying');
    expect(await resuming.textContent()).toContain('Resuming the payment');
    // The resumed request reaches the server while the first is still held, and waits for it.
    await until(() => checkout.attempts.length === 2);
    held.release();

    const paid = await status(page, 'paid');
    expect(await paid.textContent()).toBe('Paid: charge ch_1, €25.00, confirmed after the reload');
    expect(checkout.charges.map((charge) => charge.order)).toEqual(['order-7']);
    expect(checkout.attempts).toEqual(['checkout:order-7', 'checkout:order-7']);
    expect(await page.isDisabled('#pay')).toBe(true);

    // Loaded again later, the page asks the server: paid, nothing left in the journal, no new charge.
    await page.reload();
    expect(await (await status(page, 'paid')).textContent()).toBe('Paid: charge ch_1, €25.00');
    expect(checkout.charges).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a second tab opened mid-payment leaves it to the first, and both end paid', async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    await first.goto(`${checkout.origin}/?order=order-8`);
    await status(first, 'unpaid');
    const held = checkout.holdNextPayment();
    await first.click('#pay');
    await held.entered;

    const second = await context.newPage();
    await second.goto(`${checkout.origin}/?order=order-8`);
    const waiting = await status(second, 'paying');
    expect(await waiting.textContent()).toBe('Being paid in another tab…');
    held.release();

    expect(await (await status(first, 'paid')).textContent()).toMatch(
      /^Paid: charge ch_\d+, €25\.00$/,
    );
    expect(await (await status(second, 'paid')).textContent()).toMatch(
      /^Paid: charge ch_\d+, €25\.00$/,
    );
    const charges = checkout.charges.filter((charge) => charge.order === 'order-8');
    expect(charges).toHaveLength(1);
    expect(checkout.attempts.filter((key) => key === 'checkout:order-8')).toHaveLength(1);
    await context.close();
  });
});

describe('examples/browser-checkout/serve.ts', () => {
  it('serves the page, its bundle and the API when run as a script', async () => {
    const child = spawnExample('browser-checkout', [], { PORT: '0' }, 'serve.ts');
    const exit = finished(child);
    try {
      const [, origin] = (await waitForOutput(child, /checkout on (http:\/\/[^/\s]+)/)) as [
        string,
        string,
      ];
      const page = await fetch(`${origin}/?order=order-1001`);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('<script type="module" src="/main.js">');
      const script = await (await fetch(`${origin}/main.js`)).text();
      expect(script).toContain('checkout');
      expect(script).not.toMatch(/from ["']node:/);
      const order = await (await fetch(`${origin}/api/orders/order-1001`)).json();
      expect(order).toEqual({ order: 'order-1001', paid: false });
      const keyless = await fetch(`${origin}/api/payments`, { method: 'POST', body: '{}' });
      expect(keyless.status).toBe(400);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await exit).signal).toBe('SIGTERM');
  });
});

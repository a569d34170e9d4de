import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import type { ReplayEvent } from '../../src/client/events.ts';
import { isReplayed } from '../../src/client/replayed.ts';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { keyFrom } from '../../src/key/key-from.ts';
import { idempotentServer } from './support/idempotent-server.ts';
import { BASE, testClient, useServer } from './support/msw.ts';

const server = useServer();

// The three cases key design must survive (issue 2, "Tests and figures").
describe('key design scenarios', () => {
  it('1. the operation succeeds and the response is lost: the retry replays, one effect', async () => {
    const charges = idempotentServer(() => ({ status: 201, body: { charge: 'ch_1' } }));
    charges.state.loseNext = 1;
    server.use(http.post(`${BASE}/charges`, charges.handle));
    const replays: ReplayEvent[] = [];
    const client = testClient({ hooks: { replay: (e) => replays.push(e) } });

    const response = await client.post('/charges', { json: { amount: 500 } });

    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ charge: 'ch_1' });
    expect(isReplayed(response)).toBe(true);
    expect(charges.state.effects).toBe(1);
    expect(charges.stored.size).toBe(1);
    expect(replays).toHaveLength(1);
    expect(replays[0]).toMatchObject({ attempt: 2, key: [...charges.stored.keys()][0] });
  });

  it('2a. the operation fails and the response is lost: a stored failure is replayed, no effect', async () => {
    const charges = idempotentServer(() => ({ status: 402, body: { error: 'card_declined' } }));
    charges.state.loseNext = 1;
    server.use(http.post(`${BASE}/charges`, charges.handle));

    const error = await testClient()
      .post('/charges', { json: { amount: 500 } })
      .catch((e: unknown) => e);

    expect(isOncelyError(error, 'HTTP_ERROR')).toBe(true);
    const { response } = error as { response: Response };
    expect(response.status).toBe(402);
    expect(isReplayed(response)).toBe(true);
    expect(charges.state.effects).toBe(0);
  });

  it('2b. the operation fails (rolled back, key released) and the response is lost: the retry runs it once', async () => {
    let calls = 0;
    const charges = idempotentServer(() => ({ status: 201, body: { charge: 'ch_2' } }));
    const keys: Array<string | null> = [];
    server.use(
      http.post(`${BASE}/charges`, (info) => {
        keys.push(info.request.headers.get('idempotency-key'));
        // The first run fails inside the server, which stores nothing, and the 500 never arrives.
        if (++calls === 1) return HttpResponse.error();
        return charges.handle(info);
      }),
    );

    const response = await testClient().post('/charges', { json: { amount: 500 } });

    expect(response.status).toBe(201);
    expect(isReplayed(response)).toBe(false);
    expect(charges.state.effects).toBe(1);
    expect(keys[0]).toBe(keys[1]);
  });

  it('3. the operation succeeds, then the client fails: a new call gets a new key, a deterministic one replays', async () => {
    const orders = idempotentServer(() => ({ status: 201, body: { order: 'o_1' } }));
    server.use(http.post(`${BASE}/orders`, orders.handle));
    const client = testClient();
    const cart = { cartId: 'cart_77', total: 1200 };

    // The client crashes after the response: its caller starts the logical operation again.
    await client.post('/orders', { json: cart });
    await client.post('/orders', { json: cart });
    expect(orders.state.effects).toBe(2); // a random key per call cannot tell the two apart

    const key = keyFrom('order', cart.cartId);
    await client.post('/orders', { json: cart, idempotencyKey: key });
    const again = await client.post('/orders', { json: cart, idempotencyKey: key });
    expect(isReplayed(again)).toBe(true);
    expect(orders.state.effects).toBe(3); // the deterministic key made the second call a replay
  });
});

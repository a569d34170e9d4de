/**
 * What each server example's `--self-test` sends to itself, with plain `fetch` so the protocol is
 * in plain sight: a POST, the same POST again (a retry), the same key with another body, a POST
 * without a key, and the same key under another API key (another consumer). Prints one line per
 * exchange and returns whether every answer was the expected one.
 */
export interface Exchange {
  label: string;
  status: number;
  replayed: boolean;
  body: string;
}

export async function selfTest(origin: string, log = console.log): Promise<boolean> {
  const failures: string[] = [];
  const send = async (
    label: string,
    init: { apiKey: string; key?: string; body: unknown; method?: string },
  ): Promise<Exchange> => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-api-key': init.apiKey,
    };
    if (init.key !== undefined) headers['idempotency-key'] = init.key;
    const response = await fetch(new URL('/charges', origin), {
      method: init.method ?? 'POST',
      headers,
      body: init.method === 'GET' ? null : JSON.stringify(init.body),
    });
    const exchange = {
      label,
      status: response.status,
      replayed: response.headers.get('idempotent-replayed') === 'true',
      body: await response.text(),
    };
    const replay = exchange.replayed ? ' (Idempotent-Replayed: true)' : '';
    log(`${label.padEnd(34)} ${exchange.status}${replay} ${exchange.body}`);
    return exchange;
  };
  const expect = (what: string, ok: boolean) => {
    if (!ok) failures.push(what);
  };

  const key = `order-${Date.now()}`;
  const charge = { amount: 500, currency: 'EUR' };
  const first = await send('POST /charges (first attempt)', {
    apiKey: 'sk_test_acme',
    key,
    body: charge,
  });
  expect('the first attempt creates the charge (201)', first.status === 201 && !first.replayed);

  const retry = await send('POST /charges (retry, same key)', {
    apiKey: 'sk_test_acme',
    key,
    body: charge,
  });
  expect('the retry is a replay', retry.status === 201 && retry.replayed);
  expect('the replay is byte for byte', retry.body === first.body);

  const reused = await send('POST /charges (same key, 700 EUR)', {
    apiKey: 'sk_test_acme',
    key,
    body: { amount: 700, currency: 'EUR' },
  });
  expect('a reused key with another body gets 422', reused.status === 422);

  const missing = await send('POST /charges (no key)', { apiKey: 'sk_test_acme', body: charge });
  expect('a POST without a key gets 400', missing.status === 400);

  const other = await send('POST /charges (other account)', {
    apiKey: 'sk_test_globex',
    key,
    body: charge,
  });
  expect('another account has its own keys', other.status === 201 && !other.replayed);

  const list = await send('GET /charges', {
    apiKey: 'sk_test_acme',
    body: undefined,
    method: 'GET',
  });
  const count = (JSON.parse(list.body) as unknown[]).length;
  log(`charges for acme: ${count}`);
  expect('acme was charged once', count === 1);

  for (const failure of failures) log(`FAILED: ${failure}`);
  log(failures.length === 0 ? 'self-test passed' : 'self-test failed');
  return failures.length === 0;
}

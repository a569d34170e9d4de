import { HttpResponse } from 'msw';
import { REPLAYED_HEADER } from '../../../src/protocol.ts';

interface Stored {
  status: number;
  body: unknown;
}

/**
 * A minimal idempotent server for msw handlers: it runs `effect` once per key, stores the
 * response, and replays it (`Idempotent-Replayed: true`) for the same key. `loseResponse` drops
 * the connection after the effect, as a network would.
 */
export function idempotentServer(effect: (body: unknown) => Stored) {
  const stored = new Map<string, Stored>();
  const state = { effects: 0, loseNext: 0 };
  const handle = async ({ request }: { request: Request }) => {
    const key = request.headers.get('idempotency-key');
    const previous = key ? stored.get(key) : undefined;
    if (previous) {
      return HttpResponse.json(previous.body as never, {
        status: previous.status,
        headers: { [REPLAYED_HEADER]: 'true' },
      });
    }
    const result = effect(await request.json());
    state.effects += result.status < 300 ? 1 : 0;
    if (key) stored.set(key, result);
    if (state.loseNext > 0) {
      state.loseNext--;
      return HttpResponse.error();
    }
    return HttpResponse.json(result.body as never, { status: result.status });
  };
  return { handle, state, stored };
}

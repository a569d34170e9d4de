import { IDBFactory } from 'fake-indexeddb';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { OperationPendingError } from '../../src/client/operations/errors/operation-pending-error.ts';
import { indexedDbJournal } from '../../src/journal/indexeddb.ts';
import { useServer } from '../client/support/msw.ts';
import { BASE, opsClient } from './support.ts';

const server = useServer();

// fake-indexeddb serves this fast check of the IndexedDB path; test/browser/ runs real Chromium.
describe('operations on indexedDbJournal (fake-indexeddb)', () => {
  it('keeps a pending Blob upload across a new client, which resumes it with its key', async () => {
    const factory = new IDBFactory();
    const journal = () => indexedDbJournal({ indexedDB: factory, database: 'ops' });
    const seen: Array<{ key: string | null; type: string | null; bytes: number[] }> = [];
    let up = false;
    server.use(
      http.put(`${BASE}/photos/1`, async ({ request }) => {
        seen.push({
          key: request.headers.get('idempotency-key'),
          type: request.headers.get('content-type'),
          bytes: [...new Uint8Array(await request.arrayBuffer())],
        });
        return up
          ? HttpResponse.json({}, { status: 201 })
          : new HttpResponse(null, { status: 503 });
      }),
    );
    const define = (client: ReturnType<typeof opsClient>) =>
      client.operation('upload', {
        request: (bytes: number[]) => ({
          url: '/photos/1',
          method: 'PUT',
          body: new Blob([new Uint8Array(bytes)], { type: 'image/png' }),
        }),
      });

    const first = opsClient({ journal: journal(), retry: false, backgroundRetry: false });
    const error = await define(first)
      .run([137, 80, 78, 71])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationPendingError);
    await first.close();
    await first.journal.close();

    up = true;
    const second = opsClient({ journal: journal() });
    define(second);
    const summary = await second.resume();
    expect(summary.succeeded).toHaveLength(1);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[0]).toMatchObject({ type: 'image/png', bytes: [137, 80, 78, 71] });
    expect(seen[0]?.key).toBe((error as OperationPendingError).key);
    expect(await second.journal.list()).toEqual([]);
  });
});

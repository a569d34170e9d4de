import { describe, expect, it } from 'vitest';
import { recordId } from '../../../src/server/core/record-id.ts';
import { storedHeaders } from '../../../src/server/core/stored-headers.ts';
import type { CompletedRecord } from '../../../src/server/stores/store.ts';
import { post, setup } from './helpers.ts';

function streamOf(chunks: Uint8Array[], delayMs = 0): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream({
    async pull(controller) {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const chunk = chunks[index++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
}

const binary = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256);

describe('stored responses', () => {
  it('replays a binary body byte for byte, with repeated headers in order', async () => {
    const t = setup(async () => {
      const headers = new Headers({ 'content-type': 'application/octet-stream' });
      headers.append('x-trace', 'one');
      headers.append('x-trace', 'two');
      headers.append('link', '</a>; rel="next"');
      return new Response(binary, { status: 200, headers });
    });
    const first = await t.guarded(post('k'));
    const firstBytes = new Uint8Array(await first.arrayBuffer());
    const again = await t.guarded(post('k'));
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(binary);
    expect(firstBytes).toEqual(binary);
    expect(again.headers.get('x-trace')).toBe('one, two');
    expect(again.headers.get('link')).toBe('</a>; rel="next"');
    expect(again.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('keeps repeated header values apart in the stored record', async () => {
    const t = setup(
      async () => {
        const headers = new Headers();
        headers.append('set-cookie', 'a=1');
        headers.append('set-cookie', 'b=2');
        return new Response('ok', { headers });
      },
      { storeSetCookie: true },
    );
    await (await t.guarded(post('k'))).text();
    const record = (await t.store.get(recordId('tenant-1', 'k'))) as CompletedRecord;
    expect(record.response.headers.filter(([name]) => name === 'set-cookie')).toEqual([
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ]);
    const again = await t.guarded(post('k'));
    expect(again.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });

  it('drops hop-by-hop headers, Date and Set-Cookie from what is stored', async () => {
    const t = setup(
      async () =>
        new Response('ok', {
          headers: {
            connection: 'keep-alive, x-hop',
            'keep-alive': 'timeout=5',
            'x-hop': 'gone',
            upgrade: 'h2c',
            'proxy-authenticate': 'Basic',
            trailer: 'x-sum',
            te: 'trailers',
            date: 'Mon, 23 Nov 2026 13:00:00 GMT',
            'set-cookie': 'session=abc',
            'x-kept': 'yes',
          },
        }),
    );
    const first = await t.guarded(post('k'));
    expect(first.headers.get('set-cookie')).toBe('session=abc');
    await first.text();
    const record = (await t.store.get(recordId('tenant-1', 'k'))) as CompletedRecord;
    expect(record.response.headers).toEqual([
      ['content-type', 'text/plain;charset=UTF-8'],
      ['x-kept', 'yes'],
    ]);
  });

  it('filters Node-style header objects and pairs the same way', () => {
    expect(
      storedHeaders(
        {
          'Content-Length': 2,
          'Set-Cookie': ['a=1', 'b=2'],
          'Transfer-Encoding': 'chunked',
          x: undefined,
        },
        true,
      ),
    ).toEqual([
      ['content-length', '2'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ]);
    expect(
      storedHeaders(
        [
          ['Date', 'x'],
          ['X-A', '1'],
        ],
        false,
      ),
    ).toEqual([['x-a', '1']]);
  });

  it('passes a streamed response through while capturing it, and stores it at its end', async () => {
    const chunks = [new TextEncoder().encode('chunk-1;'), new TextEncoder().encode('chunk-2;')];
    const t = setup(async () => new Response(streamOf(chunks, 5), { status: 201 }));
    const response = await t.guarded(post('k'));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('chunk-1;');
    // Mid-stream the key is still in flight: a duplicate is refused, not served half a body.
    expect((await t.guarded(post('k'))).status).toBe(409);
    while (!(await reader.read()).done);
    const again = await t.guarded(post('k'));
    expect(await again.text()).toBe('chunk-1;chunk-2;');
    expect(again.status).toBe(201);
  });

  it.each([
    ['at once', 0],
    ['streamed', 5],
  ])(
    'sends a response over maxBodyBytes whole (%s), without storing it, and releases the key',
    async (_how, delay) => {
      const big = new Uint8Array(100).fill(65);
      const t = setup(async () => new Response(streamOf([big, big, big], delay), { status: 201 }), {
        maxBodyBytes: 250,
      });
      const first = await t.guarded(post('k'));
      expect((await first.arrayBuffer()).byteLength).toBe(300);
      expect(t.events).toContainEqual(
        expect.objectContaining({ type: 'not-stored', reason: 'too-large', maxBodyBytes: 250 }),
      );
      expect(t.events).toContainEqual(
        expect.objectContaining({ type: 'release', reason: 'too-large' }),
      );
      const again = await t.guarded(post('k'));
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      await again.arrayBuffer();
      expect(t.runs).toBe(2);
    },
  );

  it('streams a body produced without waiting once it passes maxBodyBytes, rather than reading it all first', async () => {
    // Each pull answers at once (a generator, an in-memory export), so the eager read never sees
    // a pending read. It read such a body to its end before answering: all of it in memory, and
    // an endless one (here 4 MiB against an 8 KiB limit) never answered at all.
    let pulls = 0;
    const chunk = new Uint8Array(1024).fill(66);
    const big = () => {
      pulls = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (++pulls > 4096) controller.close();
          else controller.enqueue(chunk);
        },
      });
    };
    const t = setup(async () => new Response(big()), { maxBodyBytes: 8 * 1024 });
    const response = await t.guarded(post('k'));
    // The limit, plus the few chunks a stream reads ahead.
    expect(pulls).toBeLessThan(16);
    expect((await response.arrayBuffer()).byteLength).toBe(4096 * 1024);
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'release', reason: 'too-large' }),
    );
    await (await t.guarded(post('k'))).arrayBuffer();
    expect(t.runs).toBe(2);
  });

  it('stores a body of exactly maxBodyBytes', async () => {
    const t = setup(async () => new Response(new Uint8Array(250).fill(1)), { maxBodyBytes: 250 });
    await (await t.guarded(post('k'))).arrayBuffer();
    expect((await t.guarded(post('k'))).headers.get('idempotent-replayed')).toBe('true');
  });

  it('releases the key when the client cancels the stream before its end', async () => {
    const t = setup(
      async () => new Response(streamOf([new Uint8Array([1]), new Uint8Array([2])], 5)),
    );
    const response = await t.guarded(post('k'));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'release', reason: 'aborted' }),
    );
    await (await t.guarded(post('k'))).arrayBuffer();
    expect(t.runs).toBe(2);
  });

  it('releases the key when the handler stream fails midway', async () => {
    let pulls = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(new Uint8Array([1]));
        else controller.error(new Error('upstream broke'));
      },
    });
    const t = setup(async () => new Response(failing));
    // A body that fails before anything could be sent rejects at once; later, while streaming.
    const send = async () => (await t.guarded(post('k'))).arrayBuffer();
    await expect(send()).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'release', reason: 'aborted' }),
    );
  });

  it('releases the key when a streamed body fails after its first chunks were sent', async () => {
    let pulls = 0;
    const failing = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (pulls++ === 0) controller.enqueue(new Uint8Array([1]));
        else controller.error(new Error('upstream broke'));
      },
    });
    const t = setup(async () => new Response(failing));
    const response = await t.guarded(post('k'));
    expect(response.status).toBe(200);
    await expect(response.arrayBuffer()).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'release', reason: 'aborted' }),
    );
  });

  it('replays a stored 204 and 304 without a body', async () => {
    for (const status of [204, 304]) {
      const t = setup(async () => new Response(null, { status, headers: { etag: '"v1"' } }));
      await t.guarded(post('k'));
      const again = await t.guarded(post('k'));
      expect(again.status).toBe(status);
      expect(again.body).toBeNull();
      expect(again.headers.get('etag')).toBe('"v1"');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { isOncelyError } from '../../src/errors/oncely-error.ts';
import { NotPersistableError } from '../../src/journal/not-persistable-error.ts';
import { deserializeRequest, serializeRequest } from '../../src/journal/serialize.ts';

describe('serializeRequest', () => {
  it('drops Authorization, Cookie, Proxy-Authorization and the secrets the user names, in any case', () => {
    const persisted = serializeRequest(
      {
        url: new URL('https://api.example/a?b=1'),
        method: 'post',
        headers: new Headers([
          ['AUTHORIZATION', 'Bearer t'],
          ['cookie', 'a=b'],
          ['Proxy-Authorization', 'Basic x'],
          ['X-API-Key', 'k'],
          ['Accept', 'application/json'],
        ]),
      },
      { secretHeaders: ['x-api-key'] },
    );
    expect(persisted).toEqual({
      url: 'https://api.example/a?b=1',
      method: 'POST',
      headers: [['accept', 'application/json']],
    });
  });

  it('defaults the method to GET, or POST with a body', () => {
    expect(serializeRequest({ url: '/a' }).method).toBe('GET');
    expect(serializeRequest({ url: '/a', json: null }).method).toBe('POST');
    expect(serializeRequest({ url: '/a', body: 'x' }).method).toBe('POST');
  });

  it('keeps the JSON value as it will be sent (toJSON applied, undefined dropped)', () => {
    const body = serializeRequest({
      url: '/a',
      json: { when: new Date(0), gone: undefined, list: [1, undefined] },
    }).body;
    expect(body).toEqual({
      type: 'json',
      value: { when: '1970-01-01T00:00:00.000Z', list: [1, null] },
    });
  });

  it('copies bytes, so reusing the buffer after the call changes nothing kept', () => {
    const buffer = new Uint8Array([1, 2, 3, 4]);
    const body = serializeRequest({ url: '/a', body: buffer.subarray(1, 3) }).body;
    buffer.fill(0);
    expect(body).toEqual({ type: 'bytes', value: new Uint8Array([2, 3]) });
  });

  it.each([
    ['a ReadableStream', () => new ReadableStream(), 'stream'],
    [
      'a FormData holding a file',
      () => {
        const form = new FormData();
        form.append('name', 'x');
        form.append('photo', new Blob(['…']), 'photo.jpg');
        return form;
      },
      'form-file',
    ],
  ])('refuses %s with NotPersistableError', (_, make, bodyType) => {
    const error = (() => {
      try {
        serializeRequest({ url: '/a', method: 'POST', body: make() });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(NotPersistableError);
    expect(isOncelyError(error, 'NOT_PERSISTABLE')).toBe(true);
    expect((error as NotPersistableError).bodyType).toBe(bodyType);
  });

  it('refuses a JSON body JSON cannot hold', () => {
    expect(() => serializeRequest({ url: '/a', json: { n: 1n } })).toThrow(NotPersistableError);
    expect(() => serializeRequest({ url: '/a', json: () => 1 })).toThrow(NotPersistableError);
  });
});

describe('deserializeRequest', () => {
  it('sends back what was kept, with content-type for JSON', async () => {
    const params = deserializeRequest(
      serializeRequest({ url: '/p', body: new URLSearchParams({ a: '1 2' }) }),
    );
    expect(await new Request('http://x/p', params).text()).toBe('a=1+2');

    const json = deserializeRequest(
      serializeRequest({ url: '/j', method: 'PUT', json: { a: [1] } }),
    );
    expect(json.method).toBe('PUT');
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(json.body).toBe('{"a":[1]}');

    const form = new FormData();
    form.append('a', '1');
    const restored = deserializeRequest(serializeRequest({ url: '/f', body: form }));
    expect([...(restored.body as FormData)]).toEqual([['a', '1']]);
  });

  it('keeps an explicit content-type on a JSON body', () => {
    const restored = deserializeRequest(
      serializeRequest({
        url: '/j',
        headers: { 'content-type': 'application/merge-patch+json' },
        json: {},
      }),
    );
    expect(restored.headers.get('content-type')).toBe('application/merge-patch+json');
  });
});

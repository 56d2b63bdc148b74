/**
 * Blocking HTTP through the worker-backed client. The server runs in a worker
 * thread (see helpers/http-server-worker.ts): the test thread is blocked in
 * Atomics.wait while each request is in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncHttpClient, clampTimeout, closeSharedHttpClient, syncHttpRequest } from '../../host-harness/src/sync-http';
import { startHttpServerWorker, type TestHttpServer } from './helpers/http-server-worker';

let server: TestHttpServer;
let client: SyncHttpClient;

beforeAll(async () => {
  server = await startHttpServerWorker();
  client = new SyncHttpClient();
});
afterAll(async () => {
  client.close();
  closeSharedHttpClient();
  await server.close();
});

describe('SyncHttpClient', () => {
  it('performs a request synchronously and returns status, headers and body', () => {
    const res = client.request({
      url: `${server.url}/echo`,
      method: 'post',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t' },
      body: '{"héllo":1}',
    });
    expect(res.status).toBe(200);
    expect(res.error).toBeUndefined();
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-multi']).toBe('a, b');
    const echoed = JSON.parse(res.body);
    expect(echoed.method).toBe('POST');
    expect(echoed.headers.authorization).toBe('Bearer t');
    expect(Buffer.from(echoed.body_base64, 'base64').toString()).toBe('{"héllo":1}');
    expect(Buffer.from(res.body_base64!, 'base64').toString()).toBe(res.body);
  });

  it('sends body_base64 as raw bytes', () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x80]);
    const res = client.request({ url: `${server.url}/echo`, method: 'PUT', headers: {}, body_base64: bytes.toString('base64') });
    expect(Buffer.from(JSON.parse(res.body).body_base64, 'base64')).toEqual(bytes);
  });

  it('treats HTTP errors as ordinary statuses', () => {
    const res = client.request({ url: `${server.url}/status/404`, method: 'GET', headers: {} });
    expect(res).toMatchObject({ status: 404, body: 'status body' });
    expect(res.error).toBeUndefined();
    expect(client.request({ url: `${server.url}/status/503`, method: 'GET' }).status).toBe(503);
  });

  it('follows redirects', () => {
    expect(JSON.parse(client.request({ url: `${server.url}/redirect`, method: 'GET' }).body).method).toBe('GET');
  });

  it('returns non-UTF-8 bodies lossily in body and exactly in body_base64', () => {
    const res = client.request({ url: `${server.url}/binary`, method: 'GET' });
    expect(res.body).toBe('hi\uFFFD\uFFFD\u0000');
    expect(Buffer.from(res.body_base64!, 'base64')).toEqual(Buffer.from([0x68, 0x69, 0xff, 0xfe, 0x00]));
  });

  it('grows its result buffer for large responses', () => {
    const n = 5 * 1024 * 1024 + 7;
    const before = client.bufferBytes;
    const res = client.request({ url: `${server.url}/bytes?n=${n}`, method: 'GET' });
    const body = Buffer.from(res.body_base64!, 'base64');
    expect(body.length).toBe(n);
    for (const i of [0, 1, 255, 256, n - 1]) expect(body[i]).toBe((i * 131 + (i >> 8)) & 255);
    expect(client.bufferBytes).toBeGreaterThan(before);
    // And small ones still work afterwards.
    expect(client.request({ url: `${server.url}/status/204`, method: 'GET' }).status).toBe(204);
  });

  it('reports transport errors in the status 0 shape', () => {
    const res = client.request({ url: 'http://127.0.0.1:1/', method: 'GET' });
    expect(res.status).toBe(0);
    expect(res.headers).toEqual({});
    expect(res.error).toMatch(/fetch failed|ECONNREFUSED/);
    expect(res.body).toBe(res.error);
  });

  it('refuses header values with CR, LF or NUL without sending', () => {
    for (const bad of ['a\r\nX-Injected: 1', 'a\nb', 'a\u0000b']) {
      const res = client.request({ url: `${server.url}/echo`, method: 'GET', headers: { 'X-Bad': bad } });
      expect(res).toEqual({ status: 0, headers: {}, body: 'invalid header value for X-Bad', error: 'invalid header value for X-Bad' });
    }
  });

  it('refuses bad URLs and bad base64 bodies', () => {
    expect(client.request({ url: 'ftp://x/', method: 'GET' }).error).toBe('unsupported url scheme: ftp:');
    expect(client.request({ url: 'not a url', method: 'GET' }).error).toBe('invalid url: not a url');
    expect(client.request({ url: `${server.url}/echo`, method: 'POST', body_base64: '***' }).error).toBe('invalid body_base64');
  });

  it('times out, clamping the timeout to at least one second', () => {
    const res = client.request({ url: `${server.url}/slow?ms=4000`, method: 'GET', timeout_ms: 10 });
    expect(res.status).toBe(0);
    expect(res.error).toBe('request timed out after 1000 ms');
    // The client is still usable after a timeout.
    expect(client.request({ url: `${server.url}/status/200`, method: 'GET' }).status).toBe(200);
  });

  it('enforces the body limit', () => {
    const small = new SyncHttpClient({ maxBodyBytes: 1000 });
    try {
      expect(small.request({ url: `${server.url}/bytes?n=1000`, method: 'GET' }).status).toBe(200);
      expect(small.request({ url: `${server.url}/bytes?n=1001`, method: 'GET' }).error).toBe(
        'response body of 1001 bytes exceeds the limit of 1000 bytes',
      );
    } finally {
      small.close();
    }
  });

  it('clamps timeouts to 1 s..300 s', () => {
    expect(clampTimeout(1)).toBe(1000);
    expect(clampTimeout(5000)).toBe(5000);
    expect(clampTimeout(10_000_000)).toBe(300_000);
    expect(clampTimeout(undefined)).toBe(120_000);
    expect(clampTimeout(Number.NaN)).toBe(120_000);
  });

  it('has a process-wide client for the default host function handler', () => {
    expect(syncHttpRequest({ url: `${server.url}/status/201`, method: 'GET' }).status).toBe(201);
  });
});

import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { recordingProxy, type RecordedConnection, type RecordingProxy } from './counting-proxy';
import { scan, stringNeedles } from './leak-scanner';
import { trafficSources } from './wire-capture';

const SECRET = 'SecretZq81LmPx0w';
const needles = stringNeedles('secret', SECRET);

let server: http.Server | null = null;
let proxy: RecordingProxy | null = null;
afterEach(async () => {
  await proxy?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = proxy = null;
});

/** An HTTP server on a loopback port with a WebSocket echo at /ws, behind a recording proxy. */
async function start(handler: http.RequestListener): Promise<{ url: string; proxy: RecordingProxy }> {
  server = http.createServer(handler);
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (socket) => socket.on('message', (data, binary) => socket.send(binary ? Buffer.from(`echo ${(data as Buffer).length}`) : 'ok', { binary })));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  proxy = await recordingProxy((server.address() as net.AddressInfo).port);
  return { url: `127.0.0.1:${proxy.port}`, proxy };
}

describe('trafficSources', () => {
  it('unmasks what a WebSocket client sends: the secret shows decoded, not in the raw bytes', async () => {
    const { url, proxy } = await start((_req, res) => res.end());
    const ws = new WebSocket(`ws://${url}/ws`, { perMessageDeflate: false });
    await new Promise((r) => ws.once('open', r));
    // Two fragments: the secret straddles them.
    ws.send(Buffer.from(`first ${SECRET.slice(0, 5)}`), { binary: true, fin: false });
    ws.send(Buffer.from(`${SECRET.slice(5)} last`), { binary: true, fin: true });
    await new Promise((r) => ws.once('message', r));
    ws.close(1000, `bye ${SECRET}`);
    await new Promise((r) => ws.once('close', r));
    const sources = trafficSources(proxy.connections());
    const hits = scan(sources, needles);
    expect(hits.some((h) => h.source.includes('to server (raw)'))).toBe(false);
    expect(hits.map((h) => h.source)).toEqual(expect.arrayContaining([expect.stringMatching(/^conn 1 to server ws message 0 \(binary\)/), expect.stringMatching(/^conn 1 to server ws close/)]));
    expect(sources.some((s) => /to client ws message 0 \(binary\)/.test(s.name) && Buffer.from(s.bytes).toString() === `echo ${SECRET.length + 11}`)).toBe(true);
  });

  it('undoes chunked transfer, gzip content and zip containers of HTTP bodies', async () => {
    const zipped = zipSync({ [`notes/${SECRET}.md`]: [Buffer.from('x'), { level: 0 }], 'body.md': [Buffer.from(`text ${SECRET} text`.repeat(20)), { level: 9 }] });
    const { url, proxy } = await start((req, res) => {
      if (req.url === '/zip') return res.end(Buffer.from(zipped));
      res.setHeader('content-encoding', 'gzip');
      const gz = zlib.createGzip();
      gz.pipe(res);
      // Several writes: a chunked body whose chunk boundaries cut the (compressed) secret.
      for (const part of ['a'.repeat(3000), SECRET, 'b'.repeat(3000)]) gz.write(part);
      gz.end();
    });
    const gzipText = await (await fetch(`http://${url}/gz`, { headers: { 'accept-encoding': 'gzip' } })).text();
    expect(gzipText).toContain(SECRET);
    await (await fetch(`http://${url}/zip`, { method: 'POST', body: `posted ${SECRET}` })).arrayBuffer();
    const hits = scan(trafficSources(proxy.connections()), needles);
    const where = hits.map((h) => h.source);
    expect(where.filter((s) => s.includes('gzip undone'))).toHaveLength(1);
    expect(where).toEqual(expect.arrayContaining([expect.stringMatching(/POST \/zip HTTP\/1\.1 \(body\)$/), expect.stringMatching(/zip member body\.md$/)]));
    // The counters per direction are the recorded bytes of every connection, each way.
    const sum = (pick: (c: RecordedConnection) => Buffer[]) => proxy.connections().reduce((n, c) => n + pick(c).reduce((m, b) => m + b.length, 0), 0);
    expect(proxy.bytesToServer()).toBe(sum((c) => c.toServer));
    expect(proxy.bytesToClient()).toBe(sum((c) => c.toClient));
    expect(proxy.bytesToClient()).toBeGreaterThan(zipped.length);
    expect(proxy.bytes()).toBe(proxy.bytesToServer() + proxy.bytesToClient());
  });

  it('refuses a compressed WebSocket frame instead of skipping it', async () => {
    server = http.createServer();
    const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });
    wss.on('connection', (socket) => socket.send(`hello ${SECRET}`));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    proxy = await recordingProxy((server.address() as net.AddressInfo).port);
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}`, { perMessageDeflate: { threshold: 0 } });
    await new Promise((r) => ws.once('message', r));
    ws.close();
    await new Promise((r) => ws.once('close', r));
    expect(() => trafficSources(proxy!.connections())).toThrow(/conn 1 to client ws: frame at 0 sets RSV bits 0x40 \(compressed\)/);
  });
});

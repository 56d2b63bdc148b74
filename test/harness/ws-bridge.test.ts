/**
 * The host-owned WebSocket bridge against a local `ws` server: URL and
 * connection key, idempotent connect, queued sends, frames into the plugin,
 * reconnect with backoff, disconnect, payload limit, and the probe plugin
 * driving it through host_ws_request.
 */
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { PluginHost } from '../../host-harness/src/plugin-host';
import { WsBridge, type PluginCaller, type WsBridgeStatus } from '../../host-harness/src/ws-bridge';
import { buildHarnessProbe } from './helpers/fixture';
import { waitFor } from './helpers/wait';

interface Server {
  port: number;
  url: string;
  wss: WebSocketServer;
  sockets: WebSocket[];
  requests: string[];
  received: { binary: boolean; data: Buffer }[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startServer(opts: { port?: number } = {}): Promise<Server> {
  const wss = new WebSocketServer({ port: opts.port ?? 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  const server: Server = {
    port,
    url: `http://127.0.0.1:${port}`,
    wss,
    sockets: [],
    requests: [],
    received: [],
    close: () =>
      new Promise<void>((r) => {
        for (const s of wss.clients) s.terminate();
        wss.close(() => r());
      }),
  };
  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    server.sockets.push(socket);
    server.requests.push(req.url ?? '');
    socket.on('message', (data: Buffer, isBinary: boolean) => server.received.push({ binary: isBinary, data: Buffer.from(data) }));
  });
  cleanups.push(() => server.close());
  return server;
}

class FakePlugin implements PluginCaller {
  calls: { name: string; input: string | Uint8Array }[] = [];
  onCall?: (name: string, input: string | Uint8Array) => void;
  async callRaw(name: string, input: string | Uint8Array): Promise<Uint8Array> {
    this.calls.push({ name, input });
    this.onCall?.(name, input);
    return new Uint8Array([0, 0]);
  }
  names(): string[] {
    return this.calls.map((c) => c.name);
  }
}

function bridgeWith(options: ConstructorParameters<typeof WsBridge>[0] = {}): { bridge: WsBridge; plugin: FakePlugin; statuses: WsBridgeStatus[] } {
  const statuses: WsBridgeStatus[] = [];
  const bridge = new WsBridge({ baseDelayMs: 20, pingIntervalMs: 0, ...options, onStatus: (s) => statuses.push(s) });
  const plugin = new FakePlugin();
  bridge.attach(plugin);
  cleanups.push(() => bridge.close());
  return { bridge, plugin, statuses };
}

const connectReq = (server: Server, extra: Record<string, unknown> = {}) => ({
  type: 'connect' as const,
  server_url: server.url,
  workspace_id: 'ws-1',
  auth_token: 'tok',
  ...extra,
});

describe('WsBridge', () => {
  it('connects, reports on_connected and sends frames', async () => {
    const server = await startServer();
    const { bridge, plugin } = bridgeWith();
    expect(bridge.handle(connectReq(server))).toEqual({ ok: true });
    await waitFor(() => plugin.names().includes('on_connected'), 'on_connected');
    expect(server.requests).toEqual(['/sync2?workspace_id=ws-1&token=tok']);
    expect(plugin.calls[0]).toEqual({ name: 'on_connected', input: '{"workspace_id":"ws-1","write_to_disk":true}' });
    expect(bridge.status()).toMatchObject({ state: 'open', attempt: 0, opens: 1, url: `ws://127.0.0.1:${server.port}/sync2?workspace_id=ws-1&token=tok` });
    expect(bridge.handle({ type: 'send_binary', data: 'AQID' })).toEqual({ ok: true });
    expect(bridge.handle({ type: 'send_text', text: '{"type":"FilesReady"}' })).toEqual({ ok: true });
    await waitFor(() => server.received.length === 2, 'two frames');
    expect(server.received).toEqual([
      { binary: true, data: Buffer.from([1, 2, 3]) },
      { binary: false, data: Buffer.from('{"type":"FilesReady"}') },
    ]);
  });

  it('queues sends made before the socket opens and flushes them in order', async () => {
    const server = await startServer();
    const { bridge } = bridgeWith();
    bridge.handle(connectReq(server, { write_to_disk: false }));
    expect(bridge.status().state).toBe('connecting');
    bridge.handle({ type: 'send_text', text: 'one' });
    bridge.handle({ type: 'send_binary', data: 'Ag==' });
    bridge.handle({ type: 'send_text', text: 'three' });
    expect(bridge.status().queued).toBe(3);
    await waitFor(() => server.received.length === 3, 'three frames');
    expect(server.received.map((r) => (r.binary ? [...r.data] : r.data.toString()))).toEqual(['one', [2], 'three']);
    expect(bridge.status().queued).toBe(0);
  });

  it('refuses sends without a connection, and bad requests', () => {
    const { bridge } = bridgeWith();
    expect(bridge.handle({ type: 'send_text', text: 'x' })).toEqual({ ok: false, error: 'host_ws_request: WebSocket bridge is not connected' });
    expect(bridge.handle({ type: 'send_binary', data: 'AQID' })).toEqual({ ok: false, error: 'host_ws_request: WebSocket bridge is not connected' });
    expect(bridge.handle({ type: 'send_binary', data: '!!' }).error).toMatch(/^host_ws_request: invalid base64/);
    expect(bridge.handle({ type: 'connect', server_url: '', workspace_id: 'w' })).toEqual({ ok: false, error: 'host_ws_request: connect needs "server_url"' });
    expect(bridge.handle({ type: 'connect', server_url: 'ftp://x', workspace_id: 'w' }).error).toBe('host_ws_request: unsupported server_url scheme: ftp:');
    expect(bridge.handle({ type: 'bogus' } as never)).toEqual({ ok: false, error: 'host_ws_request: unknown request type: bogus' });
    expect(bridge.handle({ type: 'disconnect' })).toEqual({ ok: true });
  });

  it('treats a connect with the same key as a no-op and a different key as a new connection', async () => {
    const server = await startServer();
    const { bridge, plugin } = bridgeWith();
    bridge.handle(connectReq(server));
    bridge.handle(connectReq(server));
    await waitFor(() => bridge.status().state === 'open', 'open');
    bridge.handle(connectReq(server));
    expect(bridge.status().key).toBe(`${server.url}|ws-1|tok||1`);
    bridge.handle(connectReq(server, { session_code: 'JOIN' }));
    expect(bridge.status().key).toBe(`${server.url}|ws-1|tok|JOIN|1`);
    await waitFor(() => plugin.names().filter((n) => n === 'on_connected').length === 2, 'second on_connected');
    expect(server.requests).toEqual(['/sync2?workspace_id=ws-1&token=tok', '/sync2?workspace_id=ws-1&token=tok&session=JOIN']);
    await waitFor(() => server.sockets[0].readyState === server.sockets[0].CLOSED, 'old socket closed');
    await bridge.idle();
    // The replaced connection ends without on_disconnected.
    expect(plugin.names()).toEqual(['on_connected', 'on_connected']);
  });

  it('delivers incoming frames to the plugin in order', async () => {
    const server = await startServer();
    const { bridge, plugin } = bridgeWith();
    bridge.handle(connectReq(server));
    await waitFor(() => server.sockets.length === 1 && bridge.status().state === 'open', 'open');
    const s = server.sockets[0];
    s.send(Buffer.from([0x0d, 1, 2]), { binary: true });
    s.send('{"type":"sync_complete","files_synced":0}');
    s.send(Buffer.from([9]), { binary: true });
    await waitFor(() => plugin.calls.length === 4, 'three frames delivered');
    expect(plugin.calls.slice(1)).toEqual([
      { name: 'handle_binary_message', input: new Uint8Array([0x0d, 1, 2]) },
      { name: 'handle_text_message', input: '{"type":"sync_complete","files_synced":0}' },
      { name: 'handle_binary_message', input: new Uint8Array([9]) },
    ]);
    expect(bridge.status().framesReceived).toBe(3);
  });

  it('calls on_disconnected when the server closes, then reconnects and resets the attempt count', async () => {
    const server = await startServer();
    const { bridge, plugin, statuses } = bridgeWith();
    bridge.handle(connectReq(server));
    await waitFor(() => server.sockets.length === 1 && bridge.status().state === 'open', 'open');
    server.sockets[0].close(1001, 'going away');
    await waitFor(() => server.sockets.length === 2, 'reconnect');
    await waitFor(() => plugin.names().length === 3, 'callbacks');
    expect(plugin.names()).toEqual(['on_connected', 'on_disconnected', 'on_connected']);
    expect(plugin.calls[1].input).toBe('');
    expect(statuses.some((s) => s.state === 'backoff' && s.attempt === 1 && s.nextDelayMs === 20)).toBe(true);
    expect(bridge.status()).toMatchObject({ state: 'open', attempt: 0, opens: 2 });
  });

  it('retries a refused connection with growing delays until disconnect', async () => {
    const probe = await startServer();
    const port = probe.port;
    await probe.close();
    const { bridge, plugin, statuses } = bridgeWith({ baseDelayMs: 10, backoffFactor: 2, maxDelayMs: 40 });
    bridge.handle({ type: 'connect', server_url: `http://127.0.0.1:${port}`, workspace_id: 'w' });
    bridge.handle({ type: 'send_text', text: 'queued while down' });
    await waitFor(() => plugin.names().filter((n) => n === 'on_disconnected').length >= 4, 'four failed attempts');
    const delays = statuses.filter((s) => s.state === 'backoff').map((s) => s.nextDelayMs);
    expect(delays.slice(0, 4)).toEqual([10, 20, 40, 40]);
    expect(bridge.status().queued).toBe(1);
    expect(bridge.status().lastError).toMatch(/ECONNREFUSED/);
    // A server appears on that port: the next attempt connects and flushes the queue.
    const server = await startServer({ port });
    await waitFor(() => server.received.length === 1, 'queued frame flushed');
    expect(server.received[0].data.toString()).toBe('queued while down');
    expect(bridge.handle({ type: 'disconnect' })).toEqual({ ok: true });
    expect(bridge.status()).toMatchObject({ state: 'idle', key: null, queued: 0 });
    await waitFor(() => server.sockets.every((s) => s.readyState === s.CLOSED), 'closed');
    const callsAfter = plugin.calls.length;
    await bridge.idle();
    expect(plugin.calls.length).toBe(callsAfter);
    expect(plugin.names().at(-1)).toBe('on_connected');
  });

  it('closes a connection whose incoming message exceeds maxPayload', async () => {
    const server = await startServer();
    const { bridge, plugin } = bridgeWith({ maxPayload: 1024, baseDelayMs: 60_000 });
    bridge.handle(connectReq(server));
    await waitFor(() => server.sockets.length === 1 && bridge.status().state === 'open', 'open');
    server.sockets[0].send(Buffer.alloc(2048), { binary: true });
    await waitFor(() => plugin.names().includes('on_disconnected'), 'on_disconnected');
    expect(plugin.names()).not.toContain('handle_binary_message');
    expect(bridge.status().state).toBe('backoff');
    expect(bridge.status().lastError).toMatch(/Max payload size exceeded/);
  });

  it('keeps going when a plugin callback fails', async () => {
    const server = await startServer();
    const errors: string[] = [];
    const { bridge, plugin } = bridgeWith({ onCallbackError: (name) => errors.push(name) });
    plugin.onCall = (name) => {
      if (name === 'handle_text_message') throw new Error('guest failed');
    };
    bridge.handle(connectReq(server));
    await waitFor(() => server.sockets.length === 1 && bridge.status().state === 'open', 'open');
    server.sockets[0].send('boom');
    server.sockets[0].send(Buffer.from([1]), { binary: true });
    await waitFor(() => plugin.names().includes('handle_binary_message'), 'next frame');
    expect(errors).toEqual(['handle_text_message']);
    expect(bridge.status().lastError).toBe('handle_text_message: guest failed');
  });
});

describe('WsBridge with a plugin', () => {
  it('runs the plugin side of the socket through host_ws_request', async () => {
    const server = await startServer();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-wsbridge-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const bridge = new WsBridge({ pingIntervalMs: 0 });
    const host = await PluginHost.load({ wasm: buildHarnessProbe(), checkEnvelopes: true, functions: createHostFunctions({ workspaceDir: dir, ws: bridge.handle }) });
    bridge.attach(host);
    cleanups.push(async () => {
      await host.close();
      await bridge.close();
    });
    expect(await host.callText('connect', JSON.stringify({ type: 'connect', server_url: `${server.url}/sync2`, workspace_id: 'w1', write_to_disk: false }))).toBe('{"ok":true}');
    // on_connected: the probe answers with a text frame.
    await waitFor(() => server.received.length === 1, 'hello');
    expect(server.received[0]).toEqual({ binary: false, data: Buffer.from('hello') });
    const state = await host.command('state');
    expect((state.data as { connectedWith: unknown }).connectedWith).toEqual({ workspace_id: 'w1', write_to_disk: false });
    // A binary frame is echoed by handle_binary_message through send_binary.
    server.sockets[0].send(Buffer.from([7, 8, 9]), { binary: true });
    await waitFor(() => server.received.length === 2, 'echo');
    expect(server.received[1]).toEqual({ binary: true, data: Buffer.from([7, 8, 9]) });
    await bridge.idle();
    expect(host.envelopeChecks.map((c) => [c.exportName, c.ok])).toEqual([
      ['on_connected', true],
      ['handle_binary_message', true],
    ]);
    // shutdown makes the probe disconnect: no reconnects, no on_disconnected.
    await host.shutdown();
    expect(bridge.status().state).toBe('idle');
    await waitFor(() => server.sockets[0].readyState === server.sockets[0].CLOSED, 'closed');
  });
});

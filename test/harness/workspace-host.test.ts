/**
 * openWorkspaceHost with everything on: the probe plugin over a folder with
 * persisted storage, the WebSocket bridge and the folder watcher. Also the
 * CLI entry as a separate process (exit status).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { openWorkspaceHost, type WorkspaceHost } from '../../host-harness/src/workspace-host';
import { ROOT } from '../helpers/paths';
import { buildHarnessProbe } from './helpers/fixture';
import { waitFor } from './helpers/wait';

let wasm: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  wasm = buildHarnessProbe();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-wshost-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function pluginEvents(ws: WorkspaceHost): Promise<unknown[]> {
  const res = await ws.plugin.command('state');
  return (res.data as { events: unknown[] }).events;
}

describe('openWorkspaceHost', () => {
  it('reports folder changes to the plugin and ignores the files the plugin writes', async () => {
    const dir = tempDir();
    const ws = await openWorkspaceHost({ dir, wasm, watch: { debounceMs: 40, moveWindowMs: 200 } });
    cleanups.push(() => ws.close());
    await ws.plugin.init({ workspace_root: dir });
    fs.writeFileSync(path.join(dir, 'user.md'), 'typed by the user');
    await waitFor(() => ws.watcher!.known.has('user.md') && !ws.watcher!.busy(), 'user.md noticed');
    await ws.watcher!.delivered();
    expect(await pluginEvents(ws)).toEqual([{ event_type: 'file_created', payload: { path: 'user.md' } }]);
    // The probe writes a file on a `write` event: that write must not come back as an event.
    await ws.plugin.event('write', { path: 'from-plugin.md', content: 'remote text' });
    fs.writeFileSync(path.join(dir, 'user.md'), 'edited');
    await waitFor(() => !ws.watcher!.busy() && ws.watcher!.known.has('from-plugin.md'), 'changes processed');
    await ws.watcher!.delivered();
    const events = await pluginEvents(ws);
    expect(events.map((e) => (e as { event_type: string }).event_type)).toEqual(['file_created', 'write', 'file_saved']);
  });

  it('gives the plugin a WebSocket', async () => {
    const dir = tempDir();
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const received: string[] = [];
    const sockets: WebSocket[] = [];
    wss.on('connection', (s: WebSocket) => {
      sockets.push(s);
      s.on('message', (d: Buffer) => received.push(d.toString()));
    });
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    const ws = await openWorkspaceHost({ dir, wasm, ws: { pingIntervalMs: 0 }, plugin: { checkEnvelopes: true } });
    cleanups.push(() => ws.close());
    const port = (wss.address() as { port: number }).port;
    await ws.plugin.callText('connect', JSON.stringify({ type: 'connect', server_url: `http://127.0.0.1:${port}`, workspace_id: 'w' }));
    await waitFor(() => received.includes('hello'), 'hello');
    sockets[0].send('ping-text');
    await waitFor(() => received.includes('echo:ping-text'), 'echo');
    await ws.close();
    expect(ws.bridge!.status().state).toBe('idle');
    expect(ws.plugin.envelopeChecks.every((c) => c.ok)).toBe(true);
    expect(ws.events).toContainEqual({ status: 'connected', type: 'SyncStatusChanged' });
  });
});

describe('CLI process', () => {
  it('exits non-zero when a command fails and zero when it succeeds', async () => {
    const dir = tempDir();
    const run = promisify(execFile);
    const bin = path.join(ROOT, 'bin', 'diaryx-sync.mjs');
    const ok = await run(process.execPath, [bin, 'command', 'echo', '{"n":1}', '--dir', dir, '--wasm', wasm]);
    expect(JSON.parse(ok.stdout)).toEqual({ success: true, data: { n: 1 }, error: null });
    expect(ok.stderr).toBe('');
    const failed = await run(process.execPath, [bin, 'command', 'fail', '--dir', dir, '--wasm', wasm]).then(
      () => null,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toBe('error: command fail failed: it failed\n');
  });
});

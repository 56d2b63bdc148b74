/**
 * PluginHost through a real .wasm (the harness probe fixture): host function
 * binding, the call queue, the Diaryx call-order helpers, errors, module
 * reuse, and the envelope/dispatch record of envelope-returning exports.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../common/src/wire/envelope';
import { compareEnvelopeWithDispatched, type DispatchedAction } from '../../host-harness/src/envelope-check';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import type { HostCallRecord } from '../../host-harness/src/host-types';
import { PluginCallError, PluginHost, compiledModule } from '../../host-harness/src/plugin-host';
import { openWorkspaceHost, pluginStorageDir } from '../../host-harness/src/workspace-host';
import { buildHarnessProbe } from './helpers/fixture';

let wasm: string;
let root: string;

beforeAll(() => {
  wasm = buildHarnessProbe();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-pluginhost-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function newDir(name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

describe('PluginHost', () => {
  it('loads a module, reads the manifest and drives the call order', async () => {
    const dir = newDir('order');
    const callLog: HostCallRecord[] = [];
    const host = await PluginHost.load({ wasm, functions: createHostFunctions({ workspaceDir: dir, callLog }) });
    try {
      const manifest = await host.manifest();
      expect(manifest).toMatchObject({ id: 'harness.probe', protocol_version: 1 });
      expect(await host.manifest()).toBe(manifest);
      expect(await host.setConfig({ server_url: 'http://s' })).toBe('');
      expect(await host.init({ workspace_root: dir })).toBe('');
      await host.event('file_saved', { path: 'a.md' });
      const state = await host.command('state');
      expect(state).toEqual({
        success: true,
        error: null,
        data: { initParams: { workspace_root: dir }, config: { server_url: 'http://s' }, events: [{ event_type: 'file_saved', payload: { path: 'a.md' } }], connectedWith: null },
      });
      expect(callLog.find((c) => c.name === 'host_log')?.input).toBe(JSON.stringify({ level: 'info', message: `init {"workspace_root":${JSON.stringify(dir)}}` }));
    } finally {
      await host.close();
    }
  });

  it('passes host function input and output through Extism memory unchanged', async () => {
    const dir = newDir('io');
    const callLog: HostCallRecord[] = [];
    const host = await PluginHost.load({ wasm, functions: createHostFunctions({ workspaceDir: dir, callLog, clock: () => 1234567890123 }) });
    try {
      const content = 'héllo 😀 "quoted"\n';
      const write = await host.command('host', { fn: 'host_write_file', input: JSON.stringify({ content, path: 'sub/ü.md' }) });
      expect(write).toEqual({ success: true, data: '', error: null });
      expect(fs.readFileSync(path.join(dir, 'sub', 'ü.md'), 'utf8')).toBe(content);
      expect((await host.command('host', { fn: 'host_read_file', input: JSON.stringify({ path: 'sub/ü.md' }) })).data).toBe(content);
      expect((await host.command('host', { fn: 'host_list_dir', input: JSON.stringify({ path: 'sub' }) })).data).toBe('["sub/ü.md"]');
      expect(JSON.parse((await host.command('host', { fn: 'host_hash_file', input: JSON.stringify({ path: 'sub/ü.md' }) })).data as string).hash).toMatch(/^[0-9a-f]{64}$/);
      expect((await host.command('host', { fn: 'host_read_file', input: JSON.stringify({ path: '../x' }) })).data).toBe('{"error":"Path traversal not allowed: ../x"}');
      expect((await host.command('host', { fn: 'host_namespace_list', input: '{}' })).data).toBe('{"error":"host_namespace_list is not supported by this host"}');
      expect(await host.command('timestamp')).toEqual({ success: true, data: 1234567890123, error: null });
      expect(callLog.map((c) => c.name)).toContain('host_get_timestamp');
      // Exactly the JSON the plugin sent is recorded.
      expect(callLog[0]).toEqual({ name: 'host_write_file', input: JSON.stringify({ content, path: 'sub/ü.md' }), output: '' });
    } finally {
      await host.close();
    }
  });

  it('round-trips bytes through callRaw', async () => {
    const host = await PluginHost.load({ wasm, functions: createHostFunctions({ workspaceDir: newDir('bytes') }) });
    try {
      const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 255);
      expect(await host.callRaw('echo_bytes', bytes)).toEqual(bytes);
      expect(await host.callRaw('echo_bytes', '')).toEqual(new Uint8Array(0));
    } finally {
      await host.close();
    }
  });

  it('reports command failures and plugin errors without breaking the instance', async () => {
    const host = await PluginHost.load({ wasm, functions: createHostFunctions({ workspaceDir: newDir('errors') }) });
    try {
      expect(await host.command('fail')).toEqual({ success: false, data: null, error: 'it failed' });
      const thrown = await host.command('throw');
      expect(thrown.success).toBe(false);
      expect(thrown.error).toMatch(/command threw/);
      await expect(host.callRaw('no_such_export')).rejects.toBeInstanceOf(PluginCallError);
      expect(await host.hasExport('no_such_export')).toBe(false);
      expect(await host.hasExport('handle_command')).toBe(true);
      expect(await host.command('echo', { a: 1 })).toEqual({ success: true, data: { a: 1 }, error: null });
    } finally {
      await host.close();
    }
    await expect(host.callRaw('manifest')).rejects.toThrow(/plugin is closed/);
  });

  it('runs one call at a time, in the order they were made', async () => {
    const order: string[] = [];
    const host = await PluginHost.load({
      wasm,
      functions: createHostFunctions({ workspaceDir: newDir('queue'), onCall: (c) => c.name === 'host_write_file' && order.push(JSON.parse(c.input).path) }),
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => host.event('write', { path: `f${i}.md`, content: String(i) })),
      );
      expect(results.length).toBe(20);
      expect(order).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}.md`));
    } finally {
      await host.close();
    }
  });

  it('compiles the module once and reuses it for every instance', async () => {
    const a = await compiledModule(wasm);
    const b = await compiledModule(wasm);
    expect(a).toBe(b);
    const hosts = await Promise.all([1, 2, 3].map(() => PluginHost.load({ wasm, functions: createHostFunctions({ workspaceDir: newDir('reuse') }) })));
    // Separate instances keep separate state.
    await hosts[0].setConfig({ who: 'first' });
    expect((await hosts[1].callText('get_config'))).toBe('{}');
    expect(await hosts[0].callText('get_config')).toBe('{"who":"first"}');
    await Promise.all(hosts.map((h) => h.close()));
  });

  it('records what envelope exports dispatched and compares it with the envelope', async () => {
    const sent: string[] = [];
    const host = await PluginHost.load({
      wasm,
      checkEnvelopes: true,
      functions: createHostFunctions({ workspaceDir: newDir('envelope'), ws: (r) => (sent.push(r.type), { ok: true }) }),
    });
    try {
      const call = await host.callEnvelope('handle_binary_message', new Uint8Array([1, 2, 3]));
      expect(call.dispatched).toEqual([
        { kind: 'send_binary', data: new Uint8Array([1, 2, 3]) },
        { kind: 'emit', event: { status: 'syncing', type: 'SyncStatusChanged' }, raw: '{"status":"syncing","type":"SyncStatusChanged"}' },
      ]);
      expect(compareEnvelopeWithDispatched(call.output, call.dispatched)).toMatchObject({ ok: true, problems: [] });
      await host.callRaw('handle_text_message', 'follow-up');
      await host.callRaw('handle_text_message', 'mismatch');
      await host.callRaw('on_connected', '{"workspace_id":"w","write_to_disk":true}');
      expect(host.lastEnvelopeCall?.exportName).toBe('on_connected');
      expect(host.envelopeChecks.map((c) => [c.exportName, c.ok])).toEqual([
        ['handle_binary_message', true],
        ['handle_text_message', true],
        ['handle_text_message', false],
        ['on_connected', true],
      ]);
      expect(host.envelopeChecks[2].problems).toEqual(['envelope action 0 SendText("returned") was not dispatched (in order) through the host']);
      // Non-envelope exports are not recorded.
      await host.command('echo', {});
      expect(host.envelopeChecks.length).toBe(4);
      expect(sent).toEqual(['send_binary', 'send_text', 'send_text', 'send_text', 'send_text']);
    } finally {
      await host.close();
    }
  });
});

describe('compareEnvelopeWithDispatched', () => {
  const emit = (event: Record<string, unknown>): DispatchedAction => ({ kind: 'emit', event, raw: JSON.stringify(event) });
  it('accepts returned actions dispatched in order among others, and skips DownloadSnapshot', () => {
    const out = encodeEnvelope([
      { type: 'SendBinary', data: new Uint8Array([9]) },
      { type: 'DownloadSnapshot', workspaceId: 'w' },
      { type: 'EmitEvent', event: { type: 'filesChanged', files: ['a', 'b'] } },
      { type: 'SendText', text: '{"type":"FilesReady"}' },
    ]);
    const dispatched: DispatchedAction[] = [
      { kind: 'ws_control', request: { type: 'connect' } },
      { kind: 'send_binary', data: new Uint8Array([9]) },
      { kind: 'send_binary', data: new Uint8Array([10]) },
      emit({ doc_name: '', files_synced: 2, type: 'SyncCompleted' }),
      { kind: 'send_text', text: '{"type":"FilesReady"}' },
    ];
    expect(compareEnvelopeWithDispatched(out, dispatched).ok).toBe(true);
    expect(compareEnvelopeWithDispatched(new Uint8Array(0), []).ok).toBe(true);
  });

  it('reports missing, reordered and undecodable envelopes', () => {
    const out = encodeEnvelope([
      { type: 'SendText', text: 'a' },
      { type: 'SendText', text: 'b' },
    ]);
    expect(compareEnvelopeWithDispatched(out, [{ kind: 'send_text', text: 'b' }, { kind: 'send_text', text: 'a' }]).problems).toEqual([
      'envelope action 1 SendText("b") was not dispatched (in order) through the host',
    ]);
    expect(compareEnvelopeWithDispatched(new Uint8Array([5]), []).problems).toEqual(['envelope does not decode: Buffer too short for action count']);
    const ev = encodeEnvelope([{ type: 'EmitEvent', event: { type: 'statusChanged', status: { state: 'synced' } } }]);
    expect(compareEnvelopeWithDispatched(ev, [emit({ status: 'syncing', type: 'SyncStatusChanged' })]).ok).toBe(false);
    expect(compareEnvelopeWithDispatched(ev, [emit({ type: 'SyncStatusChanged', status: 'synced' })]).ok).toBe(true);
  });

  it('takes another decoder', () => {
    const decode = () => [{ type: 'SendText' as const, text: 'x' }];
    expect(compareEnvelopeWithDispatched(new Uint8Array([0, 0]), [{ kind: 'send_text', text: 'x' }], decode).ok).toBe(true);
  });
});

describe('openWorkspaceHost', () => {
  it('keeps plugin storage under .diaryx/plugin-storage/<id> in the folder', async () => {
    const dir = newDir('wshost');
    const ws = await openWorkspaceHost({ dir, wasm, recordCalls: true });
    expect(ws.storageDir).toBe(pluginStorageDir(dir));
    expect(ws.storageDir).toBe(path.join(dir, '.diaryx', 'plugin-storage', 'diaryx.sync'));
    expect(fs.statSync(ws.storageDir!).isDirectory()).toBe(true);
    await ws.plugin.init({ workspace_root: dir });
    await ws.close();
    // shutdown wrote a storage value through host_storage_set
    expect(fs.readFileSync(path.join(ws.storageDir!, 'shutdown'), 'utf8')).toBe('yes');
    expect(ws.calls.map((c) => c.name)).toEqual(['host_log', 'host_ws_request', 'host_storage_set']);
    expect(JSON.parse(ws.calls[1].output)).toEqual({ ok: false, error: 'host_ws_request: no WebSocket bridge in this host' });
    expect(ws.logs).toEqual([{ level: 'info', message: `init {"workspace_root":${JSON.stringify(dir)}}` }]);
  });
});

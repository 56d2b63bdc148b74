/**
 * Configuration: the get_config / set_config
 * exports and commands with patch semantics (trim, empty or null clears,
 * other types ignored), init overrides, persistence under
 * `sync.extism.config`, GetProviderStatus, "Missing server_url" for the
 * server commands, and the transport reconcile after a config change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { storageFileName } from '../../host-harness/src/plugin-storage';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { fails, ok, openInitialised, openPlugin, tempWorkspace, useCleanup } from './helpers';

useCleanup();

const EMPTY = { server_url: null, auth_token: null, workspace_id: null };

async function exportConfig(ws: WorkspaceHost): Promise<unknown> {
  return JSON.parse(await ws.plugin.callText('get_config', ''));
}

function wsRequests(ws: WorkspaceHost, from = 0): Record<string, unknown>[] {
  return ws.calls
    .slice(from)
    .filter((c) => c.name === 'host_ws_request')
    .map((c) => JSON.parse(c.input) as Record<string, unknown>);
}

describe('get_config / set_config', () => {
  it('the export and the command agree, with the serde field order', async () => {
    const ws = await openInitialised();
    expect(await ws.plugin.callText('get_config', '')).toBe('{"server_url":null,"auth_token":null,"workspace_id":null}');
    expect(await ok(ws, 'get_config')).toEqual(EMPTY);
    await ws.plugin.setConfig({ server_url: 'https://sync.example.test', auth_token: 'tok', workspace_id: 'ws-1' });
    expect(await ws.plugin.callText('get_config', '')).toBe('{"server_url":"https://sync.example.test","auth_token":"tok","workspace_id":"ws-1"}');
    expect(await ok(ws, 'get_config')).toEqual(await exportConfig(ws));
  });

  for (const via of ['export', 'command'] as const) {
    it(`patch semantics through the ${via}: absent keeps, null and blank clear, strings are trimmed, other types are ignored`, async () => {
      const ws = await openInitialised();
      const set = async (patch: Record<string, unknown>) => {
        if (via === 'export') expect(await ws.plugin.setConfig(patch)).toBe('');
        else expect(await ok(ws, 'set_config', patch)).toBeNull();
      };
      await set({ server_url: '  https://sync.example.test/  ', auth_token: '\ttoken-1\n', workspace_id: ' ws-1 ' });
      expect(await exportConfig(ws)).toEqual({ server_url: 'https://sync.example.test/', auth_token: 'token-1', workspace_id: 'ws-1' });

      // Absent keys and keys of other types leave the value alone.
      await set({ auth_token: 'token-2' });
      await set({ server_url: 42, workspace_id: { id: 'x' } });
      await set({ unrelated: 'x' });
      expect(await exportConfig(ws)).toEqual({ server_url: 'https://sync.example.test/', auth_token: 'token-2', workspace_id: 'ws-1' });

      // The spec example: null clears, blank clears, a string sets.
      await set({ server_url: null, auth_token: '  ', workspace_id: 'new-workspace' });
      expect(await exportConfig(ws)).toEqual({ server_url: null, auth_token: null, workspace_id: 'new-workspace' });
      await set({ workspace_id: '' });
      expect(await exportConfig(ws)).toEqual(EMPTY);
    });
  }

  it('the config is stored under sync.extism.config and read by a fresh instance', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    await ws.plugin.setConfig({ server_url: 'https://persist.example.test', auth_token: 'persisted', workspace_id: 'ws-p' });
    await ws.close();
    const stored = JSON.parse(fs.readFileSync(path.join(ws.storageDir!, storageFileName('sync.extism.config')), 'utf8'));
    expect(stored).toEqual({ server_url: 'https://persist.example.test', auth_token: 'persisted', workspace_id: 'ws-p' });

    const again = await openPlugin(dir);
    // get_config works before init too.
    expect(await exportConfig(again)).toEqual(stored);
    await again.plugin.init({ workspace_root: dir });
    expect(await exportConfig(again)).toEqual(stored);
  });

  it('init overwrites the fields it is given, as given, and keeps the others', async () => {
    const ws = await openInitialised();
    await ws.plugin.setConfig({ server_url: 'https://before.example.test', auth_token: 'before', workspace_id: 'ws-before' });
    await ws.plugin.init({ workspace_root: ws.dir, server_url: ' https://init.example.test ', workspace_id: 'ws-init' });
    expect(await exportConfig(ws)).toEqual({ server_url: ' https://init.example.test ', auth_token: 'before', workspace_id: 'ws-init' });
  });
});

describe('GetProviderStatus', () => {
  it('is not ready without a server, then without a token, and ready with both', async () => {
    const ws = await openInitialised();
    expect(await ok(ws, 'GetProviderStatus')).toEqual({ ready: false, message: 'Sync server URL is not configured' });
    await ws.plugin.setConfig({ server_url: 'https://sync.example.test' });
    expect(await ok(ws, 'GetProviderStatus')).toEqual({ ready: false, message: 'Sign in to enable sync' });
    await ws.plugin.setConfig({ auth_token: '   ' });
    expect(await ok(ws, 'GetProviderStatus')).toEqual({ ready: false, message: 'Sign in to enable sync' });
    await ws.plugin.setConfig({ auth_token: 'tok' });
    expect(await ok(ws, 'GetProviderStatus')).toEqual({ ready: true, message: null });
    for (const provider_id of ['sync', 'diaryx.sync']) expect(await ok(ws, 'GetProviderStatus', { provider_id })).toEqual({ ready: true, message: null });
    expect(await ok(ws, 'GetProviderStatus', { provider_id: 'dropbox' })).toEqual({ ready: false, message: 'Unsupported provider' });
  });

  it('takes server_url and auth_token from the params, then the host runtime context', async () => {
    const ws = await openInitialised();
    expect(await ok(ws, 'GetProviderStatus', { server_url: 'https://p.example.test', auth_token: 'p-tok' })).toEqual({ ready: true, message: null });
    const ctx = await openInitialised({ runtimeContext: { server_url: ' https://ctx.example.test ', auth_token: 'ctx-token' } });
    expect(await ok(ctx, 'GetProviderStatus')).toEqual({ ready: true, message: null });
    // The status does not store anything.
    expect(await exportConfig(ws)).toEqual(EMPTY);
  });

  it('works before init', async () => {
    const ws = await openPlugin(tempWorkspace());
    expect(await ok(ws, 'GetProviderStatus')).toEqual({ ready: false, message: 'Sync server URL is not configured' });
    expect(await ok(ws, 'GetSyncStatus')).toMatchObject({ state: 'idle', label: 'Idle' });
  });
});

describe('server commands without a server', () => {
  it('ListRemoteWorkspaces and LinkWorkspace fail with "Missing server_url"; an unsupported provider lists nothing', async () => {
    const ws = await openInitialised();
    expect((await fails(ws, 'ListRemoteWorkspaces', {})).error).toBe('Missing server_url');
    expect((await fails(ws, 'LinkWorkspace', { name: 'Journal' })).error).toBe('Missing server_url');
    expect((await fails(ws, 'LinkWorkspace', { remote_id: 'r-1' })).error).toBe('Missing server_url');
    expect(await ok(ws, 'ListRemoteWorkspaces', { provider_id: 'dropbox' })).toEqual({ workspaces: [] });
    // A token alone is not a server.
    await ws.plugin.setConfig({ auth_token: 'tok' });
    expect((await fails(ws, 'ListRemoteWorkspaces', {})).error).toBe('Missing server_url');
    // Nothing was linked.
    expect((await exportConfig(ws) as { workspace_id: unknown }).workspace_id).toBeNull();
  });
});

describe('transport reconcile', () => {
  it('connects once server, workspace id and token resolve (server URL normalised) and disconnects when one is cleared', async () => {
    const ws = await openInitialised();
    let mark = ws.calls.length;
    await ws.plugin.setConfig({ server_url: 'https://sync.example.test/sync2/sync/', workspace_id: 'ws-1' });
    expect(wsRequests(ws, mark)).toEqual([{ type: 'disconnect' }]);

    mark = ws.calls.length;
    await ws.plugin.setConfig({ auth_token: 'tok' });
    const connect = wsRequests(ws, mark);
    expect(connect.length).toBe(1);
    expect(connect[0]).toMatchObject({ type: 'connect', server_url: 'https://sync.example.test', workspace_id: 'ws-1', auth_token: 'tok', session_code: null });
    expect(Object.keys(connect[0])).toEqual(['type', 'server_url', 'workspace_id', 'auth_token', 'session_code', 'write_to_disk']);

    mark = ws.calls.length;
    await ok(ws, 'set_config', { workspace_id: null });
    expect(wsRequests(ws, mark)).toEqual([{ type: 'disconnect' }]);
  });
});

/**
 * The conformance scenarios of the Rust plugin (its
 * tests/integration.rs), run against the built dist/diaryx_sync.wasm over a
 * real temporary workspace folder and real plugin storage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../common/src/base64';
import { storageFileName } from '../../host-harness/src/plugin-storage';
import {
  fails,
  listFiles,
  markdown,
  ok,
  openInitialised,
  openPlugin,
  storageSets,
  tempWorkspace,
  useCleanup,
  writeFile,
} from './helpers';

useCleanup();

interface UiEntry {
  slot: string;
  id: string;
  [k: string]: unknown;
}

describe('conformance scenarios of the Rust plugin', () => {
  it('1. manifest id is "diaryx.sync" and name "Sync"', async () => {
    const ws = await openPlugin(tempWorkspace());
    const manifest = await ws.plugin.manifest();
    expect(manifest.id).toBe('diaryx.sync');
    expect(manifest.name).toBe('Sync');
  });

  it('2. capabilities include file_events, workspace_events, crdt_commands, sync_transport, custom_commands', async () => {
    const ws = await openPlugin(tempWorkspace());
    const caps = (await ws.plugin.manifest()).capabilities as string[];
    for (const cap of ['file_events', 'workspace_events', 'crdt_commands', 'sync_transport', 'custom_commands']) {
      expect(caps).toContain(cap);
    }
  });

  it('3. commands include GetSyncStatus, SyncFocusedFileNow, GetProviderStatus, get_config, set_config, ListRemoteWorkspaces, LinkWorkspace', async () => {
    const ws = await openPlugin(tempWorkspace());
    const commands = (await ws.plugin.manifest()).commands as string[];
    for (const c of ['GetSyncStatus', 'SyncFocusedFileNow', 'GetProviderStatus', 'get_config', 'set_config', 'ListRemoteWorkspaces', 'LinkWorkspace']) {
      expect(commands).toContain(c);
    }
  });

  it('4. ui has the SettingsTab sync-settings, SidebarTabs and a StatusBarItem', async () => {
    const ws = await openPlugin(tempWorkspace());
    const ui = (await ws.plugin.manifest()).ui as UiEntry[];
    expect(ui.some((u) => u.slot === 'SettingsTab' && u.id === 'sync-settings')).toBe(true);
    const sidebars = ui.filter((u) => u.slot === 'SidebarTab').map((u) => u.id);
    expect(sidebars).toEqual(expect.arrayContaining(['snapshots', 'history']));
    expect(ui.some((u) => u.slot === 'StatusBarItem')).toBe(true);
  });

  it('5. init succeeds without params and with workspace_root', async () => {
    const dir = tempWorkspace();
    const bare = await openPlugin(dir);
    expect(await bare.plugin.callText('init', '')).toBe('');
    expect(await bare.plugin.callText('init', '{}')).toBe('');
    const rooted = await openPlugin(tempWorkspace());
    expect(await rooted.plugin.init({ workspace_root: rooted.dir })).toBe('');
    // Both instances answer commands afterwards.
    expect(await ok(bare, 'ListCrdtFiles')).toEqual([]);
    expect(await ok(rooted, 'ListCrdtFiles')).toEqual([]);
  });

  it('6. shutdown persists the workspace doc under a key ending in workspace_crdt', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetCrdtFile', { path: 'persist-me.md', metadata: { title: 'Persist me' } });
    const mark = ws.calls.length;
    await ws.plugin.shutdown();
    const keys = storageSets(ws, mark).map((s) => s.key);
    expect(keys.some((k) => k.endsWith('workspace_crdt'))).toBe(true);
    const stored = fs.readFileSync(path.join(ws.storageDir!, storageFileName('workspace_crdt')));
    expect(stored.length).toBeGreaterThan(2);
  });

  it('7. get_config is an object when empty; set_config stores, round-trips and clears with null', async () => {
    const ws = await openInitialised();
    const empty = JSON.parse(await ws.plugin.callText('get_config', ''));
    expect(empty).toEqual({ server_url: null, auth_token: null, workspace_id: null });

    expect(await ws.plugin.setConfig({ server_url: 'https://sync.example.test' })).toBe('');
    expect(JSON.parse(await ws.plugin.callText('get_config', '')).server_url).toBe('https://sync.example.test');

    await ws.plugin.setConfig({ server_url: 'https://a.example.test', auth_token: 'tok-1', workspace_id: 'ws-1' });
    expect(JSON.parse(await ws.plugin.callText('get_config', ''))).toEqual({
      server_url: 'https://a.example.test',
      auth_token: 'tok-1',
      workspace_id: 'ws-1',
    });

    await ws.plugin.setConfig({ server_url: null, auth_token: null, workspace_id: null });
    expect(JSON.parse(await ws.plugin.callText('get_config', ''))).toEqual({ server_url: null, auth_token: null, workspace_id: null });
  });

  it('8. GetSyncStatus is initially idle', async () => {
    const ws = await openInitialised();
    const status = await ok<Record<string, unknown>>(ws, 'GetSyncStatus');
    expect(status.state).toBe('idle');
    expect(status.label).toBe('Idle');
  });

  it('9. GetProviderStatus is not ready without config and ready after server_url + auth_token', async () => {
    const ws = await openInitialised();
    const before = await ok<{ ready: boolean; message: string | null }>(ws, 'GetProviderStatus');
    expect(before.ready).toBe(false);
    await ws.plugin.setConfig({ server_url: 'https://sync.example.test', auth_token: 'secret-token' });
    expect(await ok(ws, 'GetProviderStatus')).toEqual({ ready: true, message: null });
  });

  it('10. GetSyncState returns a data string after init; ListCrdtFiles is initially empty', async () => {
    const ws = await openInitialised();
    const state = await ok<{ data: string }>(ws, 'GetSyncState');
    expect(typeof state.data).toBe('string');
    expect(() => decodeBase64(state.data)).not.toThrow();
    expect(await ok(ws, 'ListCrdtFiles')).toEqual([]);
  });

  it('11. InitializeWorkspaceCrdt fails on an empty folder, then picks up README.md and a created child after re-init', async () => {
    const ws = await openInitialised();
    const empty = await fails(ws, 'InitializeWorkspaceCrdt', { workspace_path: ws.dir });
    expect(empty.error).toMatch(/No markdown files/);

    writeFile(ws.dir, 'README.md', markdown('title: Live Root\ncontents: []', '\n# Live Root\n'));
    const first = await ok<{ file_count: number; updated_count: number; message: string }>(ws, 'InitializeWorkspaceCrdt', { workspace_path: ws.dir });
    expect(first.file_count).toBe(1);
    expect(first.updated_count).toBe(1);

    writeFile(ws.dir, 'live-create.md', markdown('title: Live Create\npart_of: /README.md', 'created while live\n'));
    writeFile(ws.dir, 'README.md', markdown('title: Live Root\ncontents:\n  - live-create.md', '\n# Live Root\n'));
    await ws.plugin.event('file_created', { path: 'live-create.md' });
    await ws.plugin.event('file_saved', { path: 'README.md' });

    // Re-init on the same instance (state saved and reloaded from storage).
    expect(await ws.plugin.init({ workspace_root: ws.dir })).toBe('');
    const files = await listFiles(ws);
    expect(files.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')).toBe(true);
    const keys = files.map(([k]) => k);
    expect(keys).toContain('live-create.md');
    const child = files.find(([k]) => k === 'live-create.md')![1];
    expect(child.part_of).toBe('README.md');
    expect(files.find(([k]) => k === 'README.md')![1].contents).toEqual(['live-create.md']);
  });

  it('12. SetCrdtFile then GetCrdtFile returns the entry', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetCrdtFile', {
      path: 'docs/test-entry.md',
      metadata: { title: 'Test Entry', created: '2026-01-01T00:00:00Z', modified: '2026-01-02T00:00:00Z' },
    });
    const got = await ok<Record<string, unknown>>(ws, 'GetCrdtFile', { path: 'docs/test-entry.md' });
    expect(got).not.toBeNull();
    expect(got.title).toBe('Test Entry');
    expect(got.deleted).toBe(false);
    expect(got.filename).toBe('test-entry.md');
  });

  it('13. TriggerWorkspaceSync after SetCrdtFile + PrepareLiveShareRuntime emits the workspace state', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetCrdtFile', { path: 'shared.md', metadata: { title: 'Shared' } });
    const prepared = await ok(ws, 'PrepareLiveShareRuntime', { workspace_id: 'workspace-1', write_to_disk: true });
    expect(prepared).toEqual({ workspace_id: 'workspace-1', write_to_disk: true, runtime_owner: 'diaryx.sync' });
    const res = await ws.plugin.command('TriggerWorkspaceSync', {});
    expect(res.success).toBe(true);
    const data = res.data as { emitted: boolean; data: string };
    expect(data.emitted).toBe(true);
    expect(typeof data.data).toBe('string');
    expect(data.data.length).toBeGreaterThan(0);
    const bytes = decodeBase64(data.data);
    // A y-sync Update message: [0, 2, varuint len, update].
    expect([bytes[0], bytes[1]]).toEqual([0, 2]);
    expect(bytes.length).toBeGreaterThan(4);
  });

  it('14. get_component_html returns HTML for sync.snapshots and an error for an unknown component', async () => {
    const ws = await openInitialised();
    const html = await ok<string>(ws, 'get_component_html', { component_id: 'sync.snapshots' });
    expect(typeof html).toBe('string');
    expect(html).toMatch(/<html|<!doctype/i);
    const unknown = await fails(ws, 'get_component_html', { component_id: 'sync.nope' });
    expect(unknown.error).toBe('Unknown sync component: sync.nope');
    // The export form too.
    expect(await ws.plugin.callText('get_component_html', JSON.stringify({ component_id: 'sync.history' }))).toMatch(/<html|<!doctype/i);
  });

  it('15. ListRemoteWorkspaces and LinkWorkspace fail with "Missing server_url" without server config', async () => {
    const ws = await openInitialised();
    expect((await fails(ws, 'ListRemoteWorkspaces', {})).error).toBe('Missing server_url');
    expect((await fails(ws, 'LinkWorkspace', { name: 'New workspace' })).error).toBe('Missing server_url');
  });

  it('16. file_created / file_saved / file_deleted for files that do not exist do not crash', async () => {
    const ws = await openInitialised();
    for (const type of ['file_created', 'file_saved', 'file_deleted']) {
      await expect(ws.plugin.event(type, { path: 'does-not-exist.md' })).resolves.toBeUndefined();
    }
    await expect(ws.plugin.event('file_moved', { old_path: 'nope-a.md', new_path: 'nope-b.md' })).resolves.toBeUndefined();
    expect(await listFiles(ws, true)).toEqual([]);
    // Still usable.
    await ok(ws, 'SetCrdtFile', { path: 'after.md', metadata: { title: 'After' } });
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['after.md']);
  });

  it('17. file_deleted leaves a tombstone listed only with include_deleted', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetCrdtFile', { path: 'docs/removed-entry.md', metadata: { title: 'Removed' } });
    await ok(ws, 'SetCrdtFile', { path: 'docs/kept-entry.md', metadata: { title: 'Kept' } });
    await ws.plugin.event('file_deleted', { path: 'docs/removed-entry.md' });
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['docs/kept-entry.md']);
    const all = await listFiles(ws, true);
    const tomb = all.find(([k]) => k === 'docs/removed-entry.md');
    expect(tomb).toBeDefined();
    expect(tomb![1].deleted).toBe(true);
    expect(tomb![1].title).toBe('Removed');
  });
});

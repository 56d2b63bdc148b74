/**
 * Bad input gets a clear error and changes nothing: every file in the plugin
 * storage folder and in the workspace folder is hashed before and after each
 * bad call. Covers unknown commands, malformed JSON, wrong parameter types,
 * missing parameters, invalid binary parameters, paths that leave the folder,
 * and events for files that cannot be read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../common/src/base64';
import { PluginCallError } from '../../host-harness/src/plugin-host';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { bodyOf, createFile, hashTree, listFiles, markdown, ok, openInitialised, openPlugin, openSeeded, rawCommand, tempWorkspace, useCleanup, writeFile } from './helpers';

useCleanup();

/** Runs `bad`, then checks that no file in the folder (plugin storage included) changed and the plugin still works. */
async function expectUnchanged(ws: WorkspaceHost, label: string, bad: () => Promise<void>): Promise<void> {
  const before = hashTree(ws.dir);
  const filesBefore = await listFiles(ws, true);
  await bad();
  expect(hashTree(ws.dir), `${label}: files changed`).toEqual(before);
  expect(await listFiles(ws, true), `${label}: CRDT changed`).toEqual(filesBefore);
  expect(await bodyOf(ws, 'notes/a.md')).toBe('alpha\n');
}

/** Commands the Rust plugin handles itself; the rest are delegated and their errors read `Plugin command error: <msg>`. */
const OWN_COMMANDS = new Set([
  'get_component_html', 'get_config', 'set_config', 'GetSyncStatus', 'GetProviderStatus', 'ListRemoteWorkspaces', 'LinkWorkspace',
  'UploadWorkspaceSnapshot', 'UnlinkWorkspace', 'DownloadWorkspace', 'PrepareLiveShareRuntime', 'ConnectLiveShareSession',
  'DisconnectLiveShareSession',
]);
const DELEGATED_PREFIX = 'Plugin command error: ';
const isDelegated = (command: string) => !OWN_COMMANDS.has(command) && !command.startsWith('Ns');

async function expectCommandError(ws: WorkspaceHost, command: string, params: unknown, error: string | RegExp): Promise<void> {
  await expectUnchanged(ws, `${command} ${JSON.stringify(params)}`, async () => {
    const res = await ws.plugin.command(command, params);
    expect(res.success, `${command} ${JSON.stringify(params)} should fail`).toBe(false);
    expect(res.data ?? null).toBeNull();
    let text = res.error ?? '';
    if (isDelegated(command)) {
      expect(text.startsWith(DELEGATED_PREFIX), `${command}: ${text}`).toBe(true);
      text = text.slice(DELEGATED_PREFIX.length);
    }
    if (typeof error === 'string') expect(text).toBe(error);
    else expect(text).toMatch(error);
  });
}

describe('unknown commands and malformed requests', () => {
  it('an unknown command answers {"success":false,"error":"Plugin command error: Unknown sync command: X"}', async () => {
    const ws = await openSeeded();
    await expectUnchanged(ws, 'unknown', async () => {
      const raw = await rawCommand(ws, 'NoSuchCommand', {});
      expect(raw).toBe('{"success":false,"data":null,"error":"Plugin command error: Unknown sync command: NoSuchCommand"}');
      expect(JSON.parse(await rawCommand(ws, 'getsyncstatus', null))).toMatchObject({ success: false, error: 'Plugin command error: Unknown sync command: getsyncstatus' });
      expect(JSON.parse(await rawCommand(ws, '', {}))).toMatchObject({ success: false, error: 'Plugin command error: Unknown sync command: ' });
      // Params that are not an object do not hide the unknown name.
      expect(JSON.parse(await rawCommand(ws, 'NoSuchCommand', 7))).toMatchObject({ success: false, error: 'Plugin command error: Unknown sync command: NoSuchCommand' });
    });
  });

  it('before init, a delegated or unknown command answers "Plugin state not initialized" (no prefix), the plugin\'s own ones run', async () => {
    const ws = await openPlugin(tempWorkspace());
    expect(JSON.parse(await rawCommand(ws, 'ListCrdtFiles', {}))).toMatchObject({ success: false, error: 'Plugin state not initialized' });
    expect(JSON.parse(await rawCommand(ws, 'NoSuchCommand', {}))).toMatchObject({ success: false, error: 'Plugin state not initialized' });
    expect(JSON.parse(await rawCommand(ws, 'GetSyncStatus', {}))).toMatchObject({ success: true, data: { state: 'idle' } });
  });

  it('malformed JSON to the JSON exports is an error (init tolerates it) and changes nothing', async () => {
    const ws = await openSeeded();
    for (const name of ['handle_command', 'on_event', 'set_config', 'execute_typed_command', 'queue_local_update', 'get_component_html']) {
      for (const input of ['', '{', '{"command": "ListCrdtFiles", "params": {}', 'nul', '{"event_type":}']) {
        await expectUnchanged(ws, `${name}(${input})`, async () => {
          const err = await ws.plugin.callText(name, input).then(
            () => null,
            (e: unknown) => e,
          );
          expect(err, `${name}(${JSON.stringify(input)}) should fail`).toBeInstanceOf(PluginCallError);
          expect((err as PluginCallError).detail.length).toBeGreaterThan(0);
        });
      }
    }
    // Config untouched by the failed set_config calls.
    expect(JSON.parse(await ws.plugin.callText('get_config', ''))).toEqual({ server_url: null, auth_token: null, workspace_id: null });
    // init: malformed JSON counts as "nothing given"; the state is kept.
    expect(await ws.plugin.callText('init', '{"workspace_root": ')).toBe('');
    await ok(ws, 'ConfigureSyncHandler', { workspace_root: ws.dir });
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['README.md', 'notes/a.md']);
    expect(JSON.parse(await ws.plugin.callText('get_config', ''))).toEqual({ server_url: null, auth_token: null, workspace_id: null });
  });

  it('request shapes with wrong types are errors', async () => {
    const ws = await openSeeded();
    for (const input of [{ command: 7, params: {} }, { command: null, params: {} }, ['ListCrdtFiles', {}], { params: {} }, { command: 'ListCrdtFiles' }]) {
      await expectUnchanged(ws, JSON.stringify(input), async () => {
        await expect(ws.plugin.callText('handle_command', JSON.stringify(input))).rejects.toBeInstanceOf(PluginCallError);
      });
    }
    for (const input of [{ event_type: 5, payload: {} }, { payload: { path: 'notes/a.md' } }, { event_type: 'file_saved' }, [1, 2]]) {
      await expectUnchanged(ws, JSON.stringify(input), async () => {
        await expect(ws.plugin.callText('on_event', JSON.stringify(input))).rejects.toBeInstanceOf(PluginCallError);
      });
    }
  });
});

describe('parameters', () => {
  it('missing parameters name the parameter', async () => {
    const ws = await openSeeded();
    const cases: [string, Record<string, unknown>, string][] = [
      ['GetCrdtFile', {}, 'Missing parameter: path'],
      ['SetCrdtFile', { metadata: { title: 'x' } }, 'Missing parameter: path'],
      ['GetBodyContent', {}, 'Missing parameter: doc_name'],
      ['SetBodyContent', { doc_name: 'notes/a.md' }, 'Missing parameter: content'],
      ['SetBodyContent', { content: 'x' }, 'Missing parameter: doc_name'],
      ['ApplyRemoteUpdate', {}, 'Missing parameter: update'],
      ['ApplyBodyUpdate', { doc_name: 'notes/a.md' }, 'Missing parameter: update'],
      ['GetMissingUpdates', {}, 'Missing parameter: remote_state_vector'],
      ['HandleSyncMessage', { doc_name: 'workspace' }, 'Missing parameter: message'],
      ['HandleWorkspaceSyncMessage', {}, 'Missing parameter: message'],
      ['HandleCrdtState', {}, 'Missing parameter: state'],
      ['CreateUpdateMessage', {}, 'Missing parameter: update'],
      ['GetHistory', {}, 'Missing parameter: doc_name'],
      ['GetFileHistory', {}, 'Missing parameter: file_path'],
      ['GetVersionDiff', { doc_name: 'workspace', from_id: 1 }, 'Missing parameter: to_id'],
      ['GetStateAt', { doc_name: 'workspace' }, 'Missing parameter: update_id'],
      ['RestoreVersion', { doc_name: 'workspace' }, 'Missing parameter: update_id'],
      ['GetFileVersion', { update_id: 1 }, 'Missing parameter: file_path'],
      ['RestoreFileVersion', { file_path: 'notes/a.md' }, 'Missing parameter: update_id'],
      ['RestoreDeletedFile', {}, 'Missing parameter: path'],
      ['TrackContent', { path: 'notes/a.md' }, 'Missing parameter: content'],
      ['IsEcho', { content: 'x' }, 'Missing parameter: path'],
      ['GetStoragePath', {}, 'Missing parameter: canonical_path'],
      ['GetCanonicalPath', {}, 'Missing parameter: storage_path'],
      ['CreateBodyUpdate', { doc_name: 'notes/a.md' }, 'Missing parameter: content'],
      ['SyncFocusedFileNow', {}, 'Missing parameter: file_path'],
      ['DownloadWorkspace', { server_url: 'http://127.0.0.1:9' }, 'Missing remote_id'],
    ];
    for (const [command, params, error] of cases) await expectCommandError(ws, command, params, error);
  });

  it('parameters of the wrong type are errors, not coerced', async () => {
    const ws = await openSeeded();
    const cases: [string, unknown, string | RegExp][] = [
      ['GetCrdtFile', { path: 5 }, 'Missing parameter: path'],
      ['GetCrdtFile', { path: ['notes/a.md'] }, 'Missing parameter: path'],
      ['SetCrdtFile', { path: 'notes/a.md', metadata: 'not an object' }, 'Invalid metadata'],
      ['SetCrdtFile', { path: 'notes/a.md', metadata: { title: { nested: true } } }, 'Invalid metadata'],
      ['SetCrdtFile', { path: 'notes/a.md', metadata: { contents: 'notes/b.md' } }, 'Invalid metadata'],
      ['SetCrdtFile', { path: 'notes/a.md', metadata: { modified_at: 'yesterday' } }, 'Invalid metadata'],
      ['SetCrdtFile', { path: 'notes/a.md', metadata: { deleted: 'no' } }, 'Invalid metadata'],
      ['SetCrdtFile', { path: 'notes/a.md', metadata: { attachments: [{ path: 'x.png' }] } }, 'Invalid metadata'],
      ['SetBodyContent', { doc_name: 'notes/a.md', content: 42 }, 'Missing parameter: content'],
      ['SetBodyContent', { doc_name: { key: 'notes/a.md' }, content: 'x' }, 'Missing parameter: doc_name'],
      ['GetVersionDiff', { doc_name: 'workspace', from_id: 'first', to_id: 2 }, 'Missing parameter: from_id'],
      ['GetStateAt', { doc_name: 'workspace', update_id: 1.5 }, 'Missing parameter: update_id'],
      ['RestoreVersion', { doc_name: 'workspace', update_id: true }, 'Missing parameter: update_id'],
      ['ApplyRemoteUpdate', { update: 42 }, 'Expected base64 string or byte array'],
      ['ApplyRemoteUpdate', { update: { data: 'AAAA' } }, 'Expected base64 string or byte array'],
      // Params that are not an object are refused (not run as "no params").
      ['GetCrdtFile', 'notes/a.md', 'Invalid parameters: expected a JSON object, got string'],
      ['GetBodyContent', ['notes/a.md'], 'Invalid parameters: expected a JSON object, got an array'],
      ['SetHistoryRetention', 7, 'Invalid parameters: expected a JSON object, got number'],
      // An optional parameter of the wrong type is an error too, not ignored.
      ['CreateSnapshot', { name: 42 }, 'Invalid parameter name: expected a string'],
    ];
    for (const [command, params, error] of cases) await expectCommandError(ws, command, params, error);
  });

  it('invalid base64 and byte arrays with bad values are rejected', async () => {
    const ws = await openSeeded();
    const cases: [string, Record<string, unknown>, string | RegExp][] = [
      ['ApplyRemoteUpdate', { update: '!!!not base64!!!' }, /^Invalid base64: .+/],
      ['ApplyRemoteUpdate', { update: 'AAA' }, /^Invalid base64: .+/],
      ['ApplyRemoteUpdate', { update: 'AA=A' }, /^Invalid base64: .+/],
      ['ApplyRemoteUpdate', { update: [1, 2, 256] }, 'Invalid byte in array'],
      ['ApplyRemoteUpdate', { update: [1, -1] }, 'Invalid byte in array'],
      ['ApplyRemoteUpdate', { update: [1, 2.5] }, 'Invalid byte in array'],
      ['ApplyRemoteUpdate', { update: ['1'] }, 'Invalid byte in array'],
      ['ApplyRemoteUpdate', { update: [null] }, 'Invalid byte in array'],
      ['ApplyBodyUpdate', { doc_name: 'notes/a.md', update: '%%%%' }, /^Invalid base64: .+/],
      ['ApplyBodyUpdate', { doc_name: 'notes/a.md', update: [0, 1, 999] }, 'Invalid byte in array'],
      ['GetMissingUpdates', { remote_state_vector: '***' }, /^Invalid base64: .+/],
      ['HandleSyncMessage', { doc_name: 'workspace', message: 'a b c' }, /^Invalid base64: .+/],
      ['HandleCrdtState', { state: [300] }, 'Invalid byte in array'],
      ['CreateUpdateMessage', { update: '=' }, /^Invalid base64: .+/],
      ['NsPutObject', { namespace_id: 'ns', key: 'k', body_base64: '###', server_url: 'http://127.0.0.1:9' }, /^Invalid base64: .+/],
      // Well-formed base64 of bytes that are not an update / state vector / sync message.
      ['ApplyRemoteUpdate', { update: encodeBase64(Uint8Array.of(1, 5, 200, 1, 0)) }, /update/i],
      ['ApplyRemoteUpdate', { update: [255, 255, 255, 255, 255] }, /update/i],
      ['ApplyBodyUpdate', { doc_name: 'notes/a.md', update: [255, 255, 255, 255, 255] }, /update/i],
      ['GetMissingUpdates', { remote_state_vector: [255, 255, 255] }, /state vector/i],
      ['HandleSyncMessage', { doc_name: 'workspace', message: [0, 9, 9] }, /.+/],
    ];
    for (const [command, params, error] of cases) await expectCommandError(ws, command, params, error);
  });
});

describe('paths', () => {
  const TRAVERSAL = /Invalid sync path|traversal|'\.\.'/;

  it('commands refuse paths with ".." (also written with backslashes) and change nothing', async () => {
    const ws = await openSeeded();
    for (const bad of ['../escape.md', 'notes/../../escape.md', '..\\escape.md', 'notes\\..\\..\\escape.md', './../escape.md']) {
      await expectCommandError(ws, 'SetCrdtFile', { path: bad, metadata: { title: 'Escape' } }, TRAVERSAL);
      await expectCommandError(ws, 'SetBodyContent', { doc_name: bad, content: 'escape' }, TRAVERSAL);
      await expectCommandError(ws, 'GetStoragePath', { canonical_path: bad }, TRAVERSAL);
      await expectCommandError(ws, 'GetCanonicalPath', { storage_path: bad }, TRAVERSAL);
    }
    expect(fs.existsSync(path.join(path.dirname(ws.dir), 'escape.md'))).toBe(false);
  });

  it('GetCanonicalPath refuses an absolute path outside the folder and maps one inside it', async () => {
    const ws = await openSeeded();
    const outside = path.join(path.dirname(ws.dir), 'elsewhere', 'x.md');
    await expectCommandError(ws, 'GetCanonicalPath', { storage_path: outside }, /Invalid sync path|outside/);
    expect(await ok(ws, 'GetCanonicalPath', { storage_path: path.join(ws.dir, 'notes', 'a.md') })).toEqual({ path: 'notes/a.md' });
  });

  it('events with "..", absolute paths outside the folder or backslash traversal change nothing and are logged', async () => {
    const ws = await openSeeded();
    // A real file just outside the workspace folder that a traversal would reach.
    const outsideDir = path.join(path.dirname(ws.dir), `${path.basename(ws.dir)}-outside`);
    fs.mkdirSync(outsideDir, { recursive: true });
    fs.writeFileSync(path.join(outsideDir, 'secret.md'), markdown('title: Secret', 'do not sync\n'));
    try {
      const rel = `../${path.basename(outsideDir)}/secret.md`;
      const bad = [rel, rel.replace(/\//g, '\\'), path.join(outsideDir, 'secret.md'), `notes/../../${path.basename(outsideDir)}/secret.md`, 'C:/Windows/secret.md'];
      for (const p of bad) {
        for (const type of ['file_created', 'file_saved', 'file_deleted']) {
          const logsBefore = ws.logs.length;
          await expectUnchanged(ws, `${type} ${p}`, () => ws.plugin.event(type, { path: p }));
          const warned = ws.logs.slice(logsBefore).filter((l) => l.level === 'warn' || l.level === 'error');
          expect(warned.length, `${type} ${p} is logged`).toBeGreaterThan(0);
        }
        await expectUnchanged(ws, `file_moved -> ${p}`, () => ws.plugin.event('file_moved', { old_path: 'notes/a.md', new_path: p }));
        await expectUnchanged(ws, `file_moved <- ${p}`, () => ws.plugin.event('file_moved', { old_path: p, new_path: 'notes/stolen.md' }));
      }
      expect((await listFiles(ws, true)).map(([k]) => k)).toEqual(['README.md', 'notes/a.md']);
    } finally {
      fs.rmSync(outsideDir, { recursive: true, force: true });
    }
  });

  it('backslashes are path separators: notes\\b.md is the key notes/b.md', async () => {
    const ws = await openSeeded();
    writeFile(ws.dir, 'notes/b.md', markdown('title: B\npart_of: ../README.md', 'bravo\n'));
    await ws.plugin.event('file_created', { path: 'notes\\b.md' });
    await ok(ws, 'SetCrdtFile', { path: 'notes\\c.md', metadata: { title: 'C' } });
    const keys = (await listFiles(ws)).map(([k]) => k);
    expect(keys).toEqual(['README.md', 'notes/a.md', 'notes/b.md', 'notes/c.md']);
    expect(keys.some((k) => k.includes('\\'))).toBe(false);
    expect(await bodyOf(ws, 'notes/b.md')).toBe('bravo\n');
    expect(await ok(ws, 'GetCrdtFile', { path: 'notes\\b.md' })).toMatchObject({ title: 'B', part_of: 'README.md' });
  });
});

describe('files that cannot be read', () => {
  it('events for missing files, folders and unparsable front matter change nothing', async () => {
    const ws = await openSeeded();
    fs.mkdirSync(path.join(ws.dir, 'folder.md'));
    writeFile(ws.dir, 'broken.md', '---\ntitle: [unclosed\n  - : : :\n---\nbody\n');
    for (const p of ['missing.md', 'notes/missing.md', 'folder.md', 'broken.md']) {
      for (const type of ['file_created', 'file_saved']) {
        await expectUnchanged(ws, `${type} ${p}`, () => ws.plugin.event(type, { path: p }));
      }
    }
    // A delete of a file the CRDT never knew changes nothing either.
    await expectUnchanged(ws, 'file_deleted missing.md', () => ws.plugin.event('file_deleted', { path: 'missing.md' }));
    // A move whose new file does not exist changes nothing.
    await expectUnchanged(ws, 'file_moved to missing', () => ws.plugin.event('file_moved', { old_path: 'notes/a.md', new_path: 'notes/gone.md' }));
    expect(ws.logs.some((l) => l.level === 'warn' && l.message.includes('broken.md'))).toBe(true);
  });

  it('a delete is a tombstone listed only with include_deleted; its body is gone', async () => {
    const ws = await openSeeded();
    fs.rmSync(path.join(ws.dir, 'notes', 'a.md'));
    await ws.plugin.event('file_deleted', { path: 'notes/a.md' });
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['README.md']);
    const all = await listFiles(ws, true);
    expect(all.map(([k]) => k)).toEqual(['README.md', 'notes/a.md']);
    expect(all[1][1]).toMatchObject({ deleted: true, title: 'A', part_of: 'README.md' });
    expect(await ok(ws, 'GetCrdtFile', { path: 'notes/a.md' })).toMatchObject({ deleted: true });
    expect((await ok<{ content: string }>(ws, 'GetBodyContent', { doc_name: 'notes/a.md' })).content).toBe('');
    // A later save of a file that is gone leaves the tombstone alone.
    await ws.plugin.event('file_saved', { path: 'notes/a.md' });
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['README.md']);
  });
});

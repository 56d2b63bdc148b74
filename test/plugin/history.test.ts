/**
 * History commands through the built plugin: GetHistory, GetFileHistory,
 * GetVersionDiff, GetStateAt, GetFileVersion, and the restores
 * (RestoreVersion, RestoreFileVersion, RestoreDeletedFile), which must bring
 * the old text back into the file on disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeBase64 } from '../../common/src/base64';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { bodyOf, createFile, fileExists, listFiles, markdown, ok, openInitialised, readFile, useCleanup, type HistoryEntry } from './helpers';

useCleanup();

interface Versions {
  ws: WorkspaceHost;
  /** For each version: the newest history id once it was stored. */
  ids: number[];
}

/** a.md in three versions: title "Version N", body "text of version N". */
async function threeVersions(): Promise<Versions> {
  const ws = await openInitialised();
  const ids: number[] = [];
  for (let n = 1; n <= 3; n++) {
    await createFile(ws, 'a.md', markdown(`title: Version ${n}`, `text of version ${n}\n`), n === 1 ? 'file_created' : 'file_saved');
    const history = await ok<HistoryEntry[]>(ws, 'GetFileHistory', { file_path: 'a.md' });
    ids.push(history[0].update_id);
  }
  return { ws, ids };
}

function titleOnDisk(ws: WorkspaceHost, rel: string): string | null {
  const m = /^title: (.*)$/m.exec(readFile(ws.dir, rel));
  return m ? m[1] : null;
}

function bodyOnDisk(ws: WorkspaceHost, rel: string): string {
  const text = readFile(ws.dir, rel);
  const end = text.indexOf('\n---\n');
  return text.startsWith('---\n') && end >= 0 ? text.slice(end + 5) : text;
}

describe('history listings', () => {
  it('GetHistory and GetFileHistory list local updates newest first with their files', async () => {
    const { ws, ids } = await threeVersions();
    const workspace = await ok<HistoryEntry[]>(ws, 'GetHistory', { doc_name: 'workspace' });
    expect(workspace.length).toBe(3);
    for (const e of workspace) {
      expect(e.origin).toBe('local');
      expect(e.files_changed).toEqual(['a.md']);
      expect(typeof e.device_id).toBe('string');
    }
    const ws_ids = workspace.map((e) => e.update_id);
    expect([...ws_ids].sort((x, y) => y - x)).toEqual(ws_ids);

    const body = await ok<HistoryEntry[]>(ws, 'GetHistory', { doc_name: 'a.md' });
    expect(body.length).toBe(3);
    const file = await ok<HistoryEntry[]>(ws, 'GetFileHistory', { file_path: 'a.md' });
    expect(file.map((e) => e.update_id).sort((x, y) => x - y)).toEqual([...workspace, ...body].map((e) => e.update_id).sort((x, y) => x - y));
    expect(file[0].update_id).toBe(ids[2]);

    expect(await ok(ws, 'GetHistory', { doc_name: 'a.md', limit: 1 })).toEqual([body[0]]);
    expect(await ok(ws, 'GetHistory', { doc_name: 'never-seen.md' })).toEqual([]);
    expect(await ok(ws, 'GetFileHistory', { file_path: 'never-seen.md' })).toEqual([]);
  });
});

describe('reading old versions', () => {
  it('GetVersionDiff reports Added, Modified, Deleted and Restored with the metadata on both sides', async () => {
    const { ws, ids } = await threeVersions();
    const added = await ok<{ path: string; change_type: string; old_metadata: unknown; new_metadata: { title: string } }[]>(ws, 'GetVersionDiff', {
      doc_name: 'workspace',
      from_id: 0,
      to_id: ids[0],
    });
    expect(added.map((d) => [d.path, d.change_type])).toEqual([['a.md', 'Added']]);
    expect(added[0].old_metadata).toBeNull();
    expect(added[0].new_metadata.title).toBe('Version 1');

    const modified = await ok<{ change_type: string; old_metadata: { title: string }; new_metadata: { title: string } }[]>(ws, 'GetVersionDiff', {
      doc_name: 'workspace',
      from_id: ids[0],
      to_id: ids[2],
    });
    expect(modified.map((d) => d.change_type)).toEqual(['Modified']);
    expect([modified[0].old_metadata.title, modified[0].new_metadata.title]).toEqual(['Version 1', 'Version 3']);

    fs.rmSync(path.join(ws.dir, 'a.md'));
    await ws.plugin.event('file_deleted', { path: 'a.md' });
    const afterDelete = (await ok<HistoryEntry[]>(ws, 'GetHistory', { doc_name: 'workspace' }))[0].update_id;
    const deleted = await ok<{ change_type: string }[]>(ws, 'GetVersionDiff', { doc_name: 'workspace', from_id: ids[2], to_id: afterDelete });
    expect(deleted.map((d) => d.change_type)).toEqual(['Deleted']);

    await ok(ws, 'RestoreDeletedFile', { path: 'a.md' });
    const afterRestore = (await ok<HistoryEntry[]>(ws, 'GetHistory', { doc_name: 'workspace' }))[0].update_id;
    const restored = await ok<{ change_type: string }[]>(ws, 'GetVersionDiff', { doc_name: 'workspace', from_id: afterDelete, to_id: afterRestore });
    expect(restored.map((d) => d.change_type)).toEqual(['Restored']);
  });

  it('GetStateAt returns the doc state at an id; GetFileVersion the body and metadata', async () => {
    const { ws, ids } = await threeVersions();
    const at = await ok<{ data: string }>(ws, 'GetStateAt', { doc_name: 'a.md', update_id: ids[0] });
    const doc = new Y.Doc();
    Y.applyUpdate(doc, decodeBase64(at.data));
    expect(doc.getText('body').toString()).toBe('text of version 1\n');

    const wsAt = await ok<{ data: string }>(ws, 'GetStateAt', { doc_name: 'workspace', update_id: ids[1] });
    const wsDoc = new Y.Doc();
    Y.applyUpdate(wsDoc, decodeBase64(wsAt.data));
    expect(JSON.parse(wsDoc.getMap<string>('files').get('a.md')!).title).toBe('Version 2');

    expect(await ok(ws, 'GetStateAt', { doc_name: 'never-seen.md', update_id: ids[0] })).toBeNull();

    const v1 = await ok<{ content: string; metadata: { title: string } }>(ws, 'GetFileVersion', { file_path: 'a.md', update_id: ids[0] });
    expect(v1.content).toBe('text of version 1\n');
    expect(v1.metadata.title).toBe('Version 1');
    const v2 = await ok<{ content: string; metadata: { title: string } }>(ws, 'GetFileVersion', { file_path: 'a.md', update_id: ids[1] });
    expect([v2.content, v2.metadata.title]).toEqual(['text of version 2\n', 'Version 2']);
  });
});

describe('restores bring old text back on disk', () => {
  it('RestoreFileVersion restores body and metadata of a file, as a new change', async () => {
    const { ws, ids } = await threeVersions();
    const before = (await ok<HistoryEntry[]>(ws, 'GetFileHistory', { file_path: 'a.md' })).length;
    expect(await ok(ws, 'RestoreFileVersion', { file_path: 'a.md', update_id: ids[0] })).toEqual({ restored: true });
    expect(bodyOnDisk(ws, 'a.md')).toBe('text of version 1\n');
    expect(titleOnDisk(ws, 'a.md')).toBe('Version 1');
    expect(await bodyOf(ws, 'a.md')).toBe('text of version 1\n');
    expect(await ok(ws, 'GetCrdtFile', { path: 'a.md' })).toMatchObject({ title: 'Version 1', deleted: false });
    // Nothing was rewritten: the later versions are still in the history.
    const after = await ok<HistoryEntry[]>(ws, 'GetFileHistory', { file_path: 'a.md' });
    expect(after.length).toBeGreaterThan(before);
    expect((await ok<{ content: string }>(ws, 'GetFileVersion', { file_path: 'a.md', update_id: ids[2] })).content).toBe('text of version 3\n');
  });

  it('RestoreVersion of a body doc brings the old body back into the file', async () => {
    const { ws, ids } = await threeVersions();
    expect(await ok(ws, 'RestoreVersion', { doc_name: 'a.md', update_id: ids[0] })).toBeNull();
    expect(await bodyOf(ws, 'a.md')).toBe('text of version 1\n');
    expect(bodyOnDisk(ws, 'a.md')).toBe('text of version 1\n');
  });

  it('RestoreVersion of the workspace doc brings the old metadata back into the file', async () => {
    const { ws, ids } = await threeVersions();
    expect(await ok(ws, 'RestoreVersion', { doc_name: 'workspace', update_id: ids[0] })).toBeNull();
    expect(await ok(ws, 'GetCrdtFile', { path: 'a.md' })).toMatchObject({ title: 'Version 1', deleted: false });
    expect(titleOnDisk(ws, 'a.md')).toBe('Version 1');
    // The files come back as they were at that id, bodies included.
    expect(bodyOnDisk(ws, 'a.md')).toBe('text of version 1\n');
  });

  it('RestoreVersion of the workspace doc brings back a file deleted since', async () => {
    const { ws, ids } = await threeVersions();
    fs.rmSync(path.join(ws.dir, 'a.md'));
    await ws.plugin.event('file_deleted', { path: 'a.md' });
    expect((await listFiles(ws)).map(([k]) => k)).toEqual([]);
    await ok(ws, 'RestoreVersion', { doc_name: 'workspace', update_id: ids[2] });
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['a.md']);
    expect(fileExists(ws.dir, 'a.md')).toBe(true);
    expect(titleOnDisk(ws, 'a.md')).toBe('Version 3');
    expect(bodyOnDisk(ws, 'a.md')).toBe('text of version 3\n');
  });

  it('RestoreDeletedFile brings a deleted file back with its last text', async () => {
    const { ws } = await threeVersions();
    await createFile(ws, 'b.md', markdown('title: B', 'bravo\n'));
    fs.rmSync(path.join(ws.dir, 'a.md'));
    await ws.plugin.event('file_deleted', { path: 'a.md' });
    expect(fileExists(ws.dir, 'a.md')).toBe(false);

    expect(await ok(ws, 'RestoreDeletedFile', { path: 'a.md' })).toEqual({ restored: true });
    expect(fileExists(ws.dir, 'a.md')).toBe(true);
    expect(titleOnDisk(ws, 'a.md')).toBe('Version 3');
    expect(bodyOnDisk(ws, 'a.md')).toBe('text of version 3\n');
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['a.md', 'b.md']);
    // A file that is not deleted, and one that never existed.
    expect(await ok(ws, 'RestoreDeletedFile', { path: 'b.md' })).toEqual({ restored: false });
    const unknown = await ws.plugin.command('RestoreDeletedFile', { path: 'never.md' });
    expect(unknown).toMatchObject({ success: false, error: 'Plugin command error: Unknown file: never.md' });
  });

  it('restoring an id that does not exist is an error that changes nothing', async () => {
    const { ws } = await threeVersions();
    const text = readFile(ws.dir, 'a.md');
    const res = await ws.plugin.command('RestoreVersion', { doc_name: 'never-seen.md', update_id: 1 });
    expect(res.success).toBe(false);
    expect(res.error).toMatch(/No version/);
    const res2 = await ws.plugin.command('RestoreFileVersion', { file_path: 'never-seen.md', update_id: 1 });
    expect(res2.success).toBe(false);
    expect(readFile(ws.dir, 'a.md')).toBe(text);
    expect(fileExists(ws.dir, 'never-seen.md')).toBe(false);
  });
});

/**
 * Workspace snapshots through the built plugin: CreateSnapshot, ListSnapshots,
 * GetSnapshot, GetSnapshotFile, RestoreSnapshot, DeleteSnapshot; automatic
 * snapshots before restores and DownloadWorkspace imports (at most 10 kept);
 * snapshots larger than the host's 1 MiB storage quota stored in chunks; and
 * the history retention policy (SetHistoryRetention) surviving a restart.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import {
  bodyOf,
  createFile,
  fileExists,
  listFiles,
  markdown,
  ok,
  openInitialised,
  openPlugin,
  readFile,
  storageSets,
  tempWorkspace,
  useCleanup,
  type HistoryEntry,
} from './helpers';

useCleanup();

interface SnapshotInfo {
  id: string;
  name: string;
  created_at: number;
  automatic: boolean;
  file_count: number;
}

const list = (ws: WorkspaceHost) => ok<SnapshotInfo[]>(ws, 'ListSnapshots');

async function deleteFile(ws: WorkspaceHost, rel: string): Promise<void> {
  fs.rmSync(`${ws.dir}/${rel}`);
  await ws.plugin.event('file_deleted', { path: rel });
}

describe('snapshots', () => {
  it('create, list newest first, preview, restore: old text back, later files removed, deleted files back', async () => {
    const ws = await openInitialised();
    await createFile(ws, 'a.md', markdown('title: Alpha', 'first text of a\n'));
    await createFile(ws, 'notes/b.md', markdown('title: Beta', 'text of b\n'));
    const first = await ok<SnapshotInfo>(ws, 'CreateSnapshot', { name: 'Before the big edit' });
    expect(first).toMatchObject({ name: 'Before the big edit', automatic: false, file_count: 2 });

    await createFile(ws, 'a.md', markdown('title: Alpha 2', 'second text of a\n'), 'file_saved');
    const second = await ok<SnapshotInfo>(ws, 'CreateSnapshot', {});
    expect(second.name).toMatch(/^Snapshot \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect((await list(ws)).map((s) => s.id)).toEqual([second.id, first.id]);

    const preview = await ok<{ files: { path: string; title: string | null; size: number }[] }>(ws, 'GetSnapshot', { id: first.id });
    expect(preview.files.map((f) => [f.path, f.title])).toEqual([
      ['a.md', 'Alpha'],
      ['notes/b.md', 'Beta'],
    ]);
    expect(preview.files.every((f) => f.size > 0)).toBe(true);
    const fileA = await ok<{ content: string }>(ws, 'GetSnapshotFile', { id: first.id, path: 'a.md' });
    expect(fileA.content).toContain('first text of a');

    // After the snapshot: b deleted, c created, a edited again.
    await deleteFile(ws, 'notes/b.md');
    await createFile(ws, 'c.md', markdown('title: Gamma', 'created later\n'));
    expect(fileExists(ws.dir, 'notes/b.md')).toBe(false);

    const result = await ok<{ files_restored: number; files_removed: number; backup_id: string }>(ws, 'RestoreSnapshot', { id: first.id });
    expect(result.files_restored).toBe(2);
    expect(result.files_removed).toBe(1);

    expect(readFile(ws.dir, 'a.md')).toMatch(/^---\ntitle: Alpha\n[\s\S]*---\nfirst text of a\n$/);
    expect(readFile(ws.dir, 'notes/b.md')).toMatch(/title: Beta[\s\S]*---\ntext of b\n$/);
    expect(fileExists(ws.dir, 'c.md')).toBe(false);
    expect(await bodyOf(ws, 'a.md')).toBe('first text of a\n');
    expect(await bodyOf(ws, 'notes/b.md')).toBe('text of b\n');
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['a.md', 'notes/b.md']);
    const tomb = (await listFiles(ws, true)).find(([k]) => k === 'c.md');
    expect(tomb?.[1].deleted).toBe(true);

    // The restore is a new local change in the history, and the state before it was kept.
    const history = await ok<HistoryEntry[]>(ws, 'GetFileHistory', { file_path: 'a.md' });
    expect(history[0].origin).toBe('local');
    const after = await list(ws);
    expect(after[0]).toMatchObject({ id: result.backup_id, name: 'Before restoring Before the big edit', automatic: true, file_count: 2 });
    const backup = await ok<{ files: { path: string }[] }>(ws, 'GetSnapshot', { id: result.backup_id });
    expect(backup.files.map((f) => f.path)).toEqual(['a.md', 'c.md']);

    // Restoring the backup undoes the restore.
    await ok(ws, 'RestoreSnapshot', { id: result.backup_id });
    expect(readFile(ws.dir, 'a.md')).toContain('second text of a');
    expect(fileExists(ws.dir, 'c.md')).toBe(true);
    expect(fileExists(ws.dir, 'notes/b.md')).toBe(false);

    expect(await ok(ws, 'DeleteSnapshot', { id: second.id })).toEqual({ deleted: true });
    expect((await list(ws)).some((s) => s.id === second.id)).toBe(false);
    expect((await ws.plugin.command('GetSnapshot', { id: second.id })).error).toBe(`Plugin command error: Unknown snapshot: ${second.id}`);
    expect((await ws.plugin.command('RestoreSnapshot', {})).error).toBe('Plugin command error: Missing parameter: id');
  });

  it('survive a restart and are chunked under the storage quota', async () => {
    const dir = tempWorkspace();
    let ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    // About 1.4 MB of text that does not compress much: several chunks.
    const bodies: Record<string, string> = {};
    for (let i = 0; i < 6; i++) {
      const body = crypto.randomBytes(180_000).toString('base64') + '\n';
      bodies[`big-${i}.md`] = body;
      await createFile(ws, `big-${i}.md`, markdown(`title: Big ${i}`, body));
    }
    const from = ws.calls.length;
    const snap = await ok<SnapshotInfo & { size: number }>(ws, 'CreateSnapshot', { name: 'large' });
    expect(snap.size).toBeGreaterThan(1024 * 1024);
    const chunks = storageSets(ws, from).filter((s) => s.key.startsWith(`snapshot:${snap.id}:`));
    expect(chunks.length).toBe(Math.ceil(snap.size / (512 * 1024)));
    for (const c of chunks) expect(Buffer.from(c.data, 'base64').length).toBeLessThanOrEqual(512 * 1024);

    await createFile(ws, 'big-0.md', markdown('title: Big 0', 'replaced\n'), 'file_saved');
    await ws.close();

    ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    expect((await list(ws)).map((s) => s.name)).toEqual(['large']);
    await ok(ws, 'RestoreSnapshot', { id: snap.id });
    for (const [file, body] of Object.entries(bodies)) {
      expect(readFile(dir, file).endsWith(`---\n${body}`)).toBe(true);
      expect(await bodyOf(ws, file)).toBe(body);
    }
    // The automatic snapshot taken before the restore holds the replaced texts.
    const backup = (await list(ws)).find((s) => s.automatic)!;
    const b0 = await ok<{ content: string }>(ws, 'GetSnapshotFile', { id: backup.id, path: 'big-0.md' });
    expect(b0.content.endsWith('---\nreplaced\n')).toBe(true);
  });

  it('a refused chunk leaves no snapshot behind', async () => {
    const ws = await openInitialised({ storageQuotaBytes: 128 * 1024 });
    await createFile(ws, 'big.md', markdown('title: Big', crypto.randomBytes(150_000).toString('base64')));
    const res = await ws.plugin.command('CreateSnapshot', { name: 'too big' });
    expect(res.success).toBe(false);
    expect(res.error).toMatch(/could not store the snapshot: .*quota/i);
    expect(await list(ws)).toEqual([]);
    const stored = fs.readdirSync(ws.storageDir!).filter((n) => n.startsWith('snapshot'));
    expect(stored).toEqual([]);
  });

  it('are taken automatically before a workspace restore and a DownloadWorkspace import, at most 10 kept', async () => {
    const zip = zipSync({ 'a.md': new TextEncoder().encode('---\ntitle: From server\n---\nserver text\n') });
    const ws = await openInitialised({
      http: () => ({ status: 200, headers: { 'content-type': 'application/zip' }, body: '', body_base64: Buffer.from(zip).toString('base64') }),
    });
    await createFile(ws, 'a.md', markdown('title: Local', 'local text\n'));
    await ok(ws, 'DownloadWorkspace', { remote_id: 'ws-1', server_url: 'http://sync.invalid' });
    expect(readFile(ws.dir, 'a.md')).toContain('server text');
    const [download] = await list(ws);
    expect(download).toMatchObject({ name: 'Before downloading the workspace', automatic: true });
    const kept = await ok<{ content: string }>(ws, 'GetSnapshotFile', { id: download.id, path: 'a.md' });
    expect(kept.content).toContain('local text');

    const history = await ok<HistoryEntry[]>(ws, 'GetHistory', { doc_name: 'workspace' });
    await ok(ws, 'RestoreVersion', { doc_name: 'workspace', update_id: history[history.length - 1].update_id });
    expect((await list(ws))[0].name).toBe(`Before restoring version ${history[history.length - 1].update_id}`);

    const manual = await ok<SnapshotInfo>(ws, 'CreateSnapshot', { name: 'manual' });
    for (let i = 0; i < 10; i++) {
      await createFile(ws, 'a.md', markdown('title: Local', `edit ${i}\n`), 'file_saved');
      await ok(ws, 'RestoreSnapshot', { id: manual.id });
    }
    const all = await list(ws);
    expect(all.filter((s) => s.automatic).length).toBe(10);
    expect(all.some((s) => s.id === manual.id)).toBe(true);
    expect(all.some((s) => s.id === download.id)).toBe(false);
    const chunkFiles = fs.readdirSync(ws.storageDir!).filter((n) => n.startsWith('snapshot%3A'));
    expect(chunkFiles.length).toBe(all.length);
  });
});

describe('history retention', () => {
  it('SetHistoryRetention is stored and applied after a restart', async () => {
    const dir = tempWorkspace();
    let ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    expect(await ok(ws, 'GetHistoryRetention')).toMatchObject({ keep_all_days: 7, max_bytes: 4 * 1024 * 1024 });
    expect(await ok(ws, 'SetHistoryRetention', { keep_all_days: 30, max_bytes: 1024 * 1024 })).toMatchObject({ keep_all_days: 30, max_bytes: 1024 * 1024 });
    expect((await ws.plugin.command('SetHistoryRetention', { keep_all_days: -1 })).error).toMatch(/keep_all_days/);
    await ws.close();
    ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    expect(await ok(ws, 'GetHistoryRetention')).toMatchObject({ keep_all_days: 30, max_bytes: 1024 * 1024 });
    const manifest = await ws.plugin.manifest();
    for (const c of ['ListSnapshots', 'CreateSnapshot', 'GetSnapshot', 'RestoreSnapshot', 'DeleteSnapshot', 'SetHistoryRetention']) {
      expect(manifest.commands).toContain(c);
    }
  });
});

/**
 * The folder watcher over a temporary folder with a fake plugin callback:
 * created/saved/deleted events, moves detected from delete+create with the
 * same content, bursts coalesced, dot-directories and the harness's own
 * writes ignored. "Nothing happened" is checked with a sentinel change made
 * afterwards: once its event arrives, earlier changes have been processed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderWatcher, isDotPath, type FolderEvent } from '../../host-harness/src/folder-watcher';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { waitFor } from './helpers/wait';

let dir: string;
let events: FolderEvent[];
let watcher: FolderWatcher;
let sentinelCount = 0;

async function startWatcher(extra: Partial<ConstructorParameters<typeof FolderWatcher>[0]> = {}): Promise<void> {
  watcher = new FolderWatcher({ dir, debounceMs: 40, moveWindowMs: 250, ...extra, onEvent: (e) => void events.push(e) });
  await watcher.start();
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-watch-'));
  events = [];
});
afterEach(async () => {
  await watcher?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const write = (rel: string, content: string) => {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), content);
};

/** Makes a change that must be reported, and waits for it. */
async function sentinel(): Promise<void> {
  const name = `sentinel-${++sentinelCount}.md`;
  write(name, `sentinel ${sentinelCount}`);
  await waitFor(() => events.some((e) => e.type === 'file_created' && e.payload.path === name), name);
  events = events.filter((e) => !(e.type === 'file_created' && e.payload.path === name));
}

async function waitEvents(n: number): Promise<void> {
  await waitFor(() => events.length >= n, `${n} events`);
}

describe('FolderWatcher', () => {
  it('reports created, saved and deleted files with workspace-relative paths', async () => {
    write('existing.md', 'old');
    await startWatcher();
    write('notes/new.md', 'hello');
    await waitEvents(1);
    expect(events).toEqual([{ type: 'file_created', payload: { path: 'notes/new.md' } }]);
    write('existing.md', 'changed');
    await waitEvents(2);
    expect(events[1]).toEqual({ type: 'file_saved', payload: { path: 'existing.md' } });
    fs.unlinkSync(path.join(dir, 'notes', 'new.md'));
    await waitEvents(3);
    expect(events[2]).toEqual({ type: 'file_deleted', payload: { path: 'notes/new.md' } });
    await sentinel();
    expect(events.length).toBe(3);
  });

  it('reports a rename as file_moved', async () => {
    write('a.md', 'content a');
    write('sub/b.md', 'content b');
    await startWatcher();
    fs.renameSync(path.join(dir, 'a.md'), path.join(dir, 'renamed.md'));
    await waitEvents(1);
    expect(events).toEqual([{ type: 'file_moved', payload: { old_path: 'a.md', new_path: 'renamed.md' } }]);
    fs.mkdirSync(path.join(dir, 'other'));
    fs.renameSync(path.join(dir, 'sub', 'b.md'), path.join(dir, 'other', 'b.md'));
    await waitEvents(2);
    expect(events[1]).toEqual({ type: 'file_moved', payload: { old_path: 'sub/b.md', new_path: 'other/b.md' } });
    await sentinel();
    expect(events.length).toBe(2);
  });

  it('pairs a delete with a later create of the same content into file_moved', async () => {
    write('old.md', 'same bytes');
    await startWatcher();
    fs.unlinkSync(path.join(dir, 'old.md'));
    await waitFor(() => watcher.busy() && !watcher.known.has('old.md'), 'delete noticed');
    write('new/place.md', 'same bytes');
    await waitEvents(1);
    expect(events).toEqual([{ type: 'file_moved', payload: { old_path: 'old.md', new_path: 'new/place.md' } }]);
  });

  it('still reports a move when the creation was never reported (a file moved into a folder not watched yet)', async () => {
    write('A/monday.md', 'monday text');
    await startWatcher();
    // chokidar stops reporting (as when the add in a brand-new folder is
    // missed); only the unlink of the old path reaches the watcher.
    const inner = watcher as unknown as { watcher: { close(): Promise<void> }; raw(event: string, abs: string): void };
    await inner.watcher.close();
    fs.mkdirSync(path.join(dir, 'A', '2026', '12'), { recursive: true });
    fs.renameSync(path.join(dir, 'A', 'monday.md'), path.join(dir, 'A', '2026', '12', 'monday.md'));
    inner.raw('unlink', path.join(dir, 'A', 'monday.md'));
    await waitEvents(1);
    await waitFor(() => !watcher.busy(), 'the watcher to settle');
    expect(events).toEqual([{ type: 'file_moved', payload: { old_path: 'A/monday.md', new_path: 'A/2026/12/monday.md' } }]);
  });

  it('reports a delete and a create of different content separately', async () => {
    write('gone.md', 'one');
    await startWatcher();
    fs.unlinkSync(path.join(dir, 'gone.md'));
    write('fresh.md', 'two');
    await waitEvents(2);
    expect(events).toEqual([
      { type: 'file_created', payload: { path: 'fresh.md' } },
      { type: 'file_deleted', payload: { path: 'gone.md' } },
    ]);
  });

  it('turns a delete and re-create at the same path into one save', async () => {
    write('same.md', 'v1');
    await startWatcher();
    fs.unlinkSync(path.join(dir, 'same.md'));
    await waitFor(() => !watcher.known.has('same.md'), 'delete noticed');
    write('same.md', 'v2');
    await waitEvents(1);
    await sentinel();
    expect(events).toEqual([{ type: 'file_saved', payload: { path: 'same.md' } }]);
  });

  it('coalesces a burst of writes and ignores rewrites with unchanged content', async () => {
    write('stable.md', 'x');
    await startWatcher();
    for (let i = 0; i < 25; i++) write('burst.md', `version ${i}`);
    write('stable.md', 'x');
    await waitEvents(1);
    await sentinel();
    expect(events).toEqual([{ type: 'file_created', payload: { path: 'burst.md' } }]);
  });

  it('ignores dot-directories and dot-files', async () => {
    await startWatcher();
    write('.diaryx/plugin-storage/diaryx.sync/workspace_crdt', 'state');
    write('.hidden.md', 'h');
    write('notes/.draft.md', 'd');
    await sentinel();
    expect(events).toEqual([]);
    expect(isDotPath('.diaryx/x')).toBe(true);
    expect(isDotPath('a/.b/c.md')).toBe(true);
    expect(isDotPath('a/b.c/d.md')).toBe(false);
  });

  it('ignores the files the harness itself wrote or deleted for the plugin', async () => {
    write('plugin-deletes.md', 'bye');
    await startWatcher();
    const table = createHostFunctions({
      workspaceDir: dir,
      onFileWritten: (p, data) => watcher.noteOwnWrite(p, data),
      onFileDeleted: (p) => watcher.noteOwnDelete(p),
    });
    expect(table.host_write_file(JSON.stringify({ content: 'from remote', path: 'remote/a.md' }))).toBe('');
    expect(table.host_delete_file(JSON.stringify({ path: 'plugin-deletes.md' }))).toBe('');
    await sentinel();
    expect(events).toEqual([]);
    expect(watcher.known.has('remote/a.md')).toBe(true);
    // A user edit of that file afterwards is reported.
    write('remote/a.md', 'edited by the user');
    await waitEvents(1);
    expect(events).toEqual([{ type: 'file_saved', payload: { path: 'remote/a.md' } }]);
  });

  it('delivers events one at a time to an async callback', async () => {
    let active = 0;
    let maxActive = 0;
    const seen: string[] = [];
    watcher = new FolderWatcher({
      dir,
      debounceMs: 40,
      onEvent: async (e) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 5));
        seen.push(e.type === 'file_moved' ? e.payload.new_path : e.payload.path);
        active -= 1;
      },
    });
    await watcher.start();
    for (let i = 0; i < 5; i++) write(`f${i}.md`, `file ${i}`);
    await waitFor(() => seen.length === 5, 'five events');
    await watcher.delivered();
    expect(seen).toEqual(['f0.md', 'f1.md', 'f2.md', 'f3.md', 'f4.md']);
    expect(maxActive).toBe(1);
  });
});

/**
 * State survives a restart: files created, edited, renamed and deleted through
 * real files and on_event, then a shutdown and a fresh plugin instance over
 * the same folder and plugin storage. Also what the plugin does with stored
 * state it cannot decode and with a host that refuses to store (quota).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { storageKeyEntry } from '../../plugin/src/persistence';
import { storageFileName } from '../../host-harness/src/plugin-storage';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import {
  bodyOf,
  CLOCK_START,
  createFile,
  listFiles,
  markdown,
  ok,
  openPlugin,
  pluginStorageDir,
  steppingClock,
  storageSets,
  tempWorkspace,
  useCleanup,
  writeFile,
  type HistoryEntry,
} from './helpers';

useCleanup();

interface Snapshot {
  files: unknown;
  active: unknown;
  crdt: Record<string, unknown>;
  bodies: Record<string, string>;
  workspaceHistory: HistoryEntry[];
  fileHistory: Record<string, HistoryEntry[]>;
  bodyHistory: Record<string, HistoryEntry[]>;
}

/** Everything the restart must preserve, read through the commands. */
async function snapshot(ws: WorkspaceHost, keys: string[]): Promise<Snapshot> {
  const out: Snapshot = {
    files: await listFiles(ws, true),
    active: await listFiles(ws),
    crdt: {},
    bodies: {},
    workspaceHistory: await ok<HistoryEntry[]>(ws, 'GetHistory', { doc_name: 'workspace' }),
    fileHistory: {},
    bodyHistory: {},
  };
  for (const key of keys) {
    out.crdt[key] = await ok(ws, 'GetCrdtFile', { path: key });
    out.bodies[key] = await bodyOf(ws, key);
    out.fileHistory[key] = await ok<HistoryEntry[]>(ws, 'GetFileHistory', { file_path: key });
    out.bodyHistory[key] = await ok<HistoryEntry[]>(ws, 'GetHistory', { doc_name: key });
  }
  return out;
}

const errorEvents = (ws: WorkspaceHost) =>
  ws.events.filter((e) => (e as { type?: string; status?: string }).type === 'SyncStatusChanged' && (e as { status?: string }).status === 'error') as {
    type: string;
    status: string;
    error: string;
  }[];

describe('persist and restore', () => {
  it('a fresh instance over the same folder and storage sees the same files, bodies and history', async () => {
    const dir = tempWorkspace();
    const clock = steppingClock();
    const ws = await openPlugin(dir, { clock: clock.clock });
    await ws.plugin.init({ workspace_root: dir });

    await createFile(ws, 'README.md', markdown('title: Journal\ncontents:\n  - notes/day-one.md\n  - notes/day-two.md\n  - old-name.md', '\n# Journal\n'));
    await createFile(ws, 'notes/day-one.md', markdown('title: Day one\npart_of: ../README.md\ntags: [a, b]', 'First day.\n'));
    await createFile(ws, 'notes/day-two.md', markdown('title: Day two\npart_of: /README.md\naudience: [family]', 'Second day.\n'));
    await createFile(ws, 'old-name.md', markdown('title: Old name\npart_of: README.md', 'I will be renamed.\n'));
    await createFile(ws, 'doomed.md', markdown('title: Doomed', 'I will be deleted.\n'));

    // Edit a body, then metadata, then both.
    await createFile(ws, 'notes/day-one.md', markdown('title: Day one\npart_of: ../README.md\ntags: [a, b]', 'First day, edited.\n'), 'file_saved');
    await createFile(ws, 'notes/day-two.md', markdown('title: Day 2\npart_of: /README.md\naudience: [family, friends]\nmood: calm', 'Second day.\n'), 'file_saved');
    await createFile(ws, 'README.md', markdown('title: My Journal\ncontents:\n  - notes/day-one.md\n  - notes/day-two.md\n  - new-name.md', '\n# My Journal\n'), 'file_saved');

    // Rename and delete.
    fs.renameSync(path.join(dir, 'old-name.md'), path.join(dir, 'new-name.md'));
    await ws.plugin.event('file_moved', { old_path: 'old-name.md', new_path: 'new-name.md' });
    fs.rmSync(path.join(dir, 'doomed.md'));
    await ws.plugin.event('file_deleted', { path: 'doomed.md' });

    const keys = ['README.md', 'notes/day-one.md', 'notes/day-two.md', 'old-name.md', 'new-name.md', 'doomed.md'];
    const before = await snapshot(ws, keys);

    // Sanity: the state is what the edits made.
    expect((before.active as [string][]).map(([k]) => k)).toEqual(['README.md', 'new-name.md', 'notes/day-one.md', 'notes/day-two.md']);
    expect((before.files as [string, { deleted: boolean }][]).filter(([, m]) => m.deleted).map(([k]) => k)).toEqual(['doomed.md', 'old-name.md']);
    expect(before.bodies['notes/day-one.md']).toBe('First day, edited.\n');
    expect(before.bodies['new-name.md']).toBe('I will be renamed.\n');
    expect(before.crdt['notes/day-two.md']).toMatchObject({ title: 'Day 2', audience: ['family', 'friends'], extra: { mood: 'calm' }, part_of: 'README.md' });
    expect(before.crdt['new-name.md']).toMatchObject({ title: 'Old name', part_of: 'README.md', deleted: false });
    expect(before.workspaceHistory.length).toBeGreaterThanOrEqual(8);
    expect(before.fileHistory['notes/day-one.md'].length).toBeGreaterThanOrEqual(2);

    await ws.close();

    const again = await openPlugin(dir, { clock: clock.clock });
    expect(await again.plugin.init({ workspace_root: dir })).toBe('');
    const after = await snapshot(again, keys);
    expect(after).toEqual(before);
    expect(errorEvents(again)).toEqual([]);
  });

  it('state written by on_disconnected and SaveCrdtState is restored too (no shutdown)', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    await createFile(ws, 'kept.md', markdown('title: Kept', 'kept body\n'));
    await ok(ws, 'SetCrdtFile', { path: 'meta-only.md', metadata: { title: 'Only metadata', description: 'd' } });
    await ok(ws, 'SaveCrdtState');
    // The instance goes away without shutdown.
    await ws.plugin.dispose();

    const again = await openPlugin(dir);
    await again.plugin.init({ workspace_root: dir });
    expect((await listFiles(again)).map(([k]) => k)).toEqual(['kept.md', 'meta-only.md']);
    expect(await bodyOf(again, 'kept.md')).toBe('kept body\n');
    expect(await ok(again, 'GetCrdtFile', { path: 'meta-only.md' })).toMatchObject({ title: 'Only metadata', description: 'd' });
  });
});

describe('stored state that does not decode', () => {
  const GARBAGE = Buffer.from([0xff, 0xfe, 0x01, 0x02, 0x03, 0x63, 0x2a, 0x00, 0x9c]);

  function plantGarbage(dir: string, key: string, bytes: Buffer): string {
    const storage = pluginStorageDir(dir);
    fs.mkdirSync(storage, { recursive: true });
    const file = path.join(storage, storageFileName(key));
    fs.writeFileSync(file, bytes);
    return storage;
  }

  it('a corrupt workspace_crdt: fresh start, an error event, the bytes kept under workspace_crdt.corrupt', async () => {
    const dir = tempWorkspace();
    const storage = plantGarbage(dir, 'workspace_crdt', GARBAGE);
    const ws = await openPlugin(dir);
    expect(await ws.plugin.init({ workspace_root: dir })).toBe('');

    const errors = errorEvents(ws);
    expect(errors.length).toBe(1);
    expect(errors[0].error).toMatch(/workspace_crdt/);
    expect(errors[0].error).toMatch(/workspace_crdt\.corrupt/);
    expect(fs.readFileSync(path.join(storage, storageFileName('workspace_crdt.corrupt')))).toEqual(GARBAGE);

    // Fresh and usable.
    expect(await listFiles(ws, true)).toEqual([]);
    await createFile(ws, 'after.md', markdown('title: After', 'written after the corruption\n'));
    await ws.close();

    // The kept bytes are never overwritten by the plugin's own saves, and the good state loads.
    expect(fs.readFileSync(path.join(storage, storageFileName('workspace_crdt.corrupt')))).toEqual(GARBAGE);
    const again = await openPlugin(dir);
    await again.plugin.init({ workspace_root: dir });
    expect(errorEvents(again)).toEqual([]);
    expect((await listFiles(again)).map(([k]) => k)).toEqual(['after.md']);
    expect(fs.readFileSync(path.join(storage, storageFileName('workspace_crdt.corrupt')))).toEqual(GARBAGE);
  });

  it('a second corruption does not silently destroy the bytes kept from the first', async () => {
    const dir = tempWorkspace();
    const storage = plantGarbage(dir, 'workspace_crdt', GARBAGE);
    const first = await openPlugin(dir);
    await first.plugin.init({ workspace_root: dir });
    await first.close();

    const second = Buffer.from([0xee, 0xdd, 0x07, 0x07, 0x07, 0x07]);
    plantGarbage(dir, 'workspace_crdt', second);
    const ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    expect(errorEvents(ws).length).toBe(1);
    const kept = fs
      .readdirSync(storage)
      .filter((name) => name.startsWith(storageFileName('workspace_crdt.corrupt')))
      .map((name) => fs.readFileSync(path.join(storage, name)));
    expect(kept).toContainEqual(GARBAGE);
    expect(kept).toContainEqual(second);
  });

  it('a corrupt body doc is set aside and the body is read again from disk', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir);
    await ws.plugin.init({ workspace_root: dir });
    await createFile(ws, 'a.md', markdown('title: A', 'alpha body\n'));
    await ws.close();

    const storage = plantGarbage(dir, 'body:a.md', GARBAGE);
    const again = await openPlugin(dir);
    await again.plugin.init({ workspace_root: dir });
    expect((await listFiles(again)).map(([k]) => k)).toEqual(['a.md']);
    // Body docs load on first use: the bad bytes are found then.
    await again.plugin.event('file_saved', { path: 'a.md' });
    const errors = errorEvents(again);
    expect(errors.length).toBe(1);
    expect(errors[0].error).toMatch(/body:a\.md/);
    expect(fs.readFileSync(path.join(storage, storageFileName('body:a.md.corrupt')))).toEqual(GARBAGE);
    expect(await bodyOf(again, 'a.md')).toBe('alpha body\n');
  });
});

describe('storage quota refusal', () => {
  it('a refused write becomes an error event and the in-memory state stays usable', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir, { storageQuotaBytes: 64 });
    expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
    await createFile(ws, 'big.md', markdown('title: Big entry\ndescription: larger than the quota allows', 'A body that, with its metadata, does not fit in 64 bytes.\n'));

    const errors = errorEvents(ws);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(Object.keys(e).sort()).toEqual(['error', 'status', 'type']);
      expect(e.error).toMatch(/Storage quota exceeded/);
    }
    expect(errors.some((e) => e.error.includes('workspace_crdt'))).toBe(true);
    // Nothing bigger than the quota reached the storage folder.
    for (const name of fs.readdirSync(ws.storageDir!)) expect(fs.statSync(path.join(ws.storageDir!, name)).size).toBeLessThanOrEqual(64);

    // In-memory state is intact and keeps working.
    expect((await listFiles(ws)).map(([k]) => k)).toEqual(['big.md']);
    expect(await bodyOf(ws, 'big.md')).toBe('A body that, with its metadata, does not fit in 64 bytes.\n');
    await createFile(ws, 'big.md', markdown('title: Big entry v2', 'edited\n'), 'file_saved');
    expect(await ok(ws, 'GetCrdtFile', { path: 'big.md' })).toMatchObject({ title: 'Big entry v2' });
    expect(await bodyOf(ws, 'big.md')).toBe('edited\n');
    const save = await ws.plugin.command('SaveCrdtState', {});
    expect(save.success).toBe(false);
    expect(save.error).toMatch(/Storage quota exceeded/);
    expect((await ok<unknown[]>(ws, 'GetHistory', { doc_name: 'workspace' })).length).toBeGreaterThan(0);
    await expect(ws.plugin.shutdown()).resolves.toBeUndefined();
  });

  it('writes that fit are still made when others are refused', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir, { storageQuotaBytes: 200 });
    await ws.plugin.init({ workspace_root: dir });
    writeFile(dir, 'small.md', 'tiny\n');
    await ws.plugin.event('file_created', { path: 'small.md' });
    await ws.plugin.shutdown();
    expect(fs.readFileSync(path.join(ws.storageDir!, storageFileName('body:small.md'))).length).toBeGreaterThan(0);
  });
});

describe('saving after commands', () => {
  /** A host clock that never moves: the 2 s autosave never comes due after the first save. */
  const frozen = () => CLOCK_START;

  it('a state-changing command (handle_command or execute_typed_command) is stored before it returns', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir, { clock: frozen });
    expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
    // The first change takes the one autosave a frozen clock allows.
    await ok(ws, 'SetCrdtFile', { path: 'first.md', metadata: { title: 'First' } });
    await ok(ws, 'SetCrdtFile', { path: 'a.md', metadata: { title: 'A' } });
    await ok(ws, 'SetBodyContent', { doc_name: 'a.md', content: 'by handle_command\n' });
    const typed = await ws.plugin.callText('execute_typed_command', JSON.stringify({ type: 'SetBodyContent', params: { doc_name: 'b.md', content: 'by execute_typed_command\n' } }));
    expect(JSON.parse(typed)).toMatchObject({ type: 'PluginResult' });
    // A crash: the instance goes away without shutdown (nothing saved at the end).
    await ws.plugin.dispose();

    const again = await openPlugin(dir, { clock: frozen });
    expect(await again.plugin.init({ workspace_root: dir })).toBe('');
    expect(await ok(again, 'GetCrdtFile', { path: 'a.md' })).toMatchObject({ title: 'A' });
    expect(await bodyOf(again, 'a.md')).toBe('by handle_command\n');
    expect(await bodyOf(again, 'b.md')).toBe('by execute_typed_command\n');
  });

  it('an update that waits for an earlier one (a deletion before its text) is stored too, and applies after a crash once the text comes', async () => {
    const other = new Y.Doc();
    other.getText('body').insert(0, 'keep this, drop this\n');
    const text = Y.encodeStateAsUpdate(other);
    const sv = Y.encodeStateVector(other);
    other.getText('body').delete(9, 11);
    const deletion = Y.encodeStateAsUpdate(other, sv);
    const base64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

    const dir = tempWorkspace();
    const ws = await openPlugin(dir, { clock: frozen });
    expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
    await ok(ws, 'SetCrdtFile', { path: 'first.md', metadata: { title: 'First' } });
    await ok(ws, 'ApplyBodyUpdate', { doc_name: 'a.md', update: base64(deletion) });
    await ws.plugin.dispose();

    const again = await openPlugin(dir, { clock: frozen });
    expect(await again.plugin.init({ workspace_root: dir })).toBe('');
    await ok(again, 'ApplyBodyUpdate', { doc_name: 'a.md', update: base64(text) });
    expect(await bodyOf(again, 'a.md')).toBe('keep this\n');
  });

  it('a command that changes nothing writes nothing', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir, { clock: frozen });
    await ws.plugin.init({ workspace_root: dir });
    await ok(ws, 'SetCrdtFile', { path: 'a.md', metadata: { title: 'A' } });
    await ok(ws, 'SaveCrdtState');
    const from = ws.calls.length;
    await ok(ws, 'GetSyncStatus');
    await ok(ws, 'ListCrdtFiles');
    expect(ws.calls.slice(from).filter((c) => c.name === 'host_storage_set')).toEqual([]);
  });
});

describe('the storage key table', () => {
  it('every key the plugin writes is in STORAGE_KEYS (config, docs, parts, history, retention, snapshots, device id)', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir);
    expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
    await ws.plugin.setConfig({ server_url: 'https://sync.example.test', auth_token: 'tok' });
    await createFile(ws, 'a.md', markdown('title: A', 'alpha\n'));
    // A body doc over 512 KiB is stored in parts.
    await createFile(ws, 'big.md', markdown('title: Big', `${crypto.randomBytes(450_000).toString('base64')}\n`));
    await ok(ws, 'SetHistoryRetention', { keep_all_days: 30, max_bytes: 1024 * 1024 });
    await ok(ws, 'CreateSnapshot', { name: 'one' });
    await ws.plugin.shutdown();

    const written = [...new Set(storageSets(ws).map((s) => s.key))].sort();
    expect(written.filter((key) => storageKeyEntry(key) === null)).toEqual([]);
    const entries = new Set(written.map((key) => storageKeyEntry(key)!.key));
    for (const key of ['sync.extism.config', 'workspace_crdt', 'body:<key>', 'body_doc_manifest', 'history:manifest', 'history:g<gen>.<n>', 'history_retention', 'snapshot_index', 'snapshot:<id>:<n>', 'device_id', '<key>:part:<gen>.<n>']) {
      expect(entries, key).toContain(key);
    }
  });
});

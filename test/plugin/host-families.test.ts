/**
 * The built plugin against a real sync server process under each host
 * family's answer conventions (host-harness HostFamily): `current` (in-band
 * errors), `web` (the web app of the plugin's era: `""` for a missing file,
 * swallowed write and storage failures) and `desktop` (a failed host call
 * traps the export call).
 *
 * Each scenario is one a user of those hosts met: the status left at
 * `Syncing 0/2` after sync completed, a note saved before linking merged
 * twice into every device's text, a root index file given as the workspace
 * root uploaded empty, a remote delete of a file already gone here restored
 * as an empty file, conflict copies refused for want of a free name, and a
 * snapshot download the server asked for overwriting local files without the
 * automatic snapshot the command takes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostFamily } from '../../host-harness/src/host-functions';
import type { HostCallRecord } from '../../host-harness/src/host-types';
import { openWorkspaceHost, type WorkspaceHost } from '../../host-harness/src/workspace-host';
import { e2eSuite, tempDir, waitFor } from '../e2e/helpers';
import { PLUGIN_WASM } from '../helpers/paths';

const suite = e2eSuite(['alice']);
const FAMILIES: HostFamily[] = ['current', 'web', 'desktop'];

interface Device {
  ws: WorkspaceHost;
  dir: string;
  /** Host calls that trapped (desktop family). */
  traps: HostCallRecord[];
  /** Export calls that failed. */
  failures: string[];
}

const open: Device[] = [];
let workspaces = 0;
afterEach(async () => {
  for (const d of open.splice(0)) await d.ws.close().catch(() => undefined);
});

/** The plugin over `dir` with the given host family, the host's WebSocket when `online`, no folder watcher. */
async function openDevice(dir: string, family: HostFamily, online = true): Promise<Device> {
  const traps: HostCallRecord[] = [];
  const failures: string[] = [];
  const ws = await openWorkspaceHost({
    wasm: PLUGIN_WASM,
    dir,
    family,
    ws: online,
    onCall: (record) => {
      if (record.output.startsWith('<trap:')) traps.push(record);
    },
    onLog: (level, message) => {
      if (level === 'error' || level === 'warn') failures.push(message);
    },
  });
  const device = { ws, dir, traps, failures };
  open.push(device);
  return device;
}

async function closeDevice(d: Device): Promise<void> {
  const i = open.indexOf(d);
  if (i >= 0) open.splice(i, 1);
  await d.ws.close();
}

function serverConfig(): { server_url: string; auth_token: string } {
  return { server_url: suite.server.url, auth_token: suite.token() };
}

function write(dir: string, rel: string, text: string): void {
  const abs = path.join(dir, ...rel.split('/'));
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, text);
}

function read(dir: string, rel: string): string | null {
  try {
    return fs.readFileSync(path.join(dir, ...rel.split('/')), 'utf8');
  } catch {
    return null;
  }
}

type HostEvent = { type?: string; status?: string; completed?: number; total?: number };

/** Waits for a `SyncStatusChanged synced` event after event index `from`. */
async function waitSynced(d: Device, from = 0): Promise<void> {
  await waitFor(
    () => (d.ws.events.slice(from) as HostEvent[]).some((e) => e.type === 'SyncStatusChanged' && e.status === 'synced'),
    `${d.dir} to reach synced`,
    30_000,
  );
}

async function command<T>(d: Device, name: string, params: unknown = {}): Promise<T> {
  const res = await d.ws.plugin.command(name, params);
  if (!res.success) throw new Error(`${name} failed: ${res.error}`);
  return res.data as T;
}

async function body(d: Device, key: string): Promise<string> {
  return (await command<{ content: string }>(d, 'GetBodyContent', { doc_name: key })).content;
}

/** The server's snapshot of a workspace: path -> file text. */
async function serverSnapshot(workspaceId: string): Promise<Record<string, string>> {
  const res = await fetch(`${suite.server.url}/api/workspaces/${workspaceId}/snapshot`, { headers: { Authorization: `Bearer ${suite.token()}` } });
  expect(res.status).toBe(200);
  const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, new TextDecoder().decode(v)]));
}

const README = '---\ntitle: Journal\ndescription: My notes\ncontents:\n  - notes/a.md\n---\n# Journal\n\nThe root index.\n';
const NOTE_A = '---\ntitle: A\npart_of: ../README.md\n---\nalpha line\n';

/**
 * A folder with README.md and notes/a.md, the plugin initialised on it (not
 * linked: no workspace id), the files reported and a.md saved again with a
 * new line, then linked with LinkWorkspace (a new remote workspace).
 */
async function linkedAfterOfflineEdit(family: HostFamily, root: (dir: string) => string = (dir) => dir): Promise<{ a: Device; workspaceId: string; noteA: string }> {
  const dir = tempDir('family');
  write(dir, 'README.md', README);
  write(dir, 'notes/a.md', NOTE_A);
  const a = await openDevice(dir, family);
  expect(await a.ws.plugin.init({ workspace_root: root(dir) })).toBe('');
  await a.ws.plugin.setConfig(serverConfig());
  await a.ws.plugin.event('file_created', { path: 'README.md' });
  await a.ws.plugin.event('file_created', { path: 'notes/a.md' });
  // A note saved while the workspace is not linked.
  const noteA = `${NOTE_A}saved before linking\n`;
  write(dir, 'notes/a.md', noteA);
  await a.ws.plugin.event('file_saved', { path: 'notes/a.md' });
  expect(await body(a, 'notes/a.md')).toBe('alpha line\nsaved before linking\n');
  const from = a.ws.events.length;
  const linked = await command<{ remote_id: string; files_uploaded: number }>(a, 'LinkWorkspace', { name: `Journal ${family} ${++workspaces}` });
  expect(linked.files_uploaded).toBe(2);
  await waitSynced(a, from);
  return { a, workspaceId: linked.remote_id, noteA };
}

/** A second device joining the workspace on an empty folder. */
async function joinDevice(family: HostFamily, workspaceId: string): Promise<Device> {
  const b = await openDevice(tempDir('family-b'), family);
  expect(await b.ws.plugin.init({ workspace_root: b.dir, workspace_id: workspaceId, ...serverConfig() })).toBe('');
  await waitSynced(b);
  return b;
}

describe.each(FAMILIES)('host family %s', (family) => {
  it('status: the bootstrap count ends at N/N and the status bar says Synced, not Syncing 0/N', async () => {
    const { a, workspaceId } = await linkedAfterOfflineEdit(family);
    const b = await joinDevice(family, workspaceId);
    for (const d of [a, b]) {
      const status = await command<{ state: string; label: string; progress: unknown }>(d, 'GetSyncStatus');
      expect(status).toMatchObject({ state: 'synced', label: 'Synced', progress: null });
      const progress = (d.ws.events as HostEvent[]).filter((e) => e.type === 'SyncProgress' && e.total !== undefined && e.total > 0);
      const last = progress[progress.length - 1];
      expect(last, `${d.dir}: a bootstrap progress event`).toBeDefined();
      expect(last.completed).toBe(last.total);
      expect(d.traps).toEqual([]);
    }
    await closeDevice(b);
    await closeDevice(a);
  });

  it('a note saved before linking holds its text once, here, on the server and on another device', async () => {
    const { a, workspaceId } = await linkedAfterOfflineEdit(family);
    const b = await joinDevice(family, workspaceId);
    const text = 'alpha line\nsaved before linking\n';
    await waitFor(() => read(b.dir, 'notes/a.md')?.endsWith(`---\n${text}`), 'the note on the second device');
    const server = await serverSnapshot(workspaceId);
    expect(server['notes/a.md'].endsWith(`---\n${text}`)).toBe(true);
    for (const d of [a, b]) {
      expect(await body(d, 'notes/a.md')).toBe(text);
      expect(read(d.dir, 'notes/a.md')?.endsWith(`---\n${text}`)).toBe(true);
    }
    // An edit after linking goes through once too.
    const edited = `${read(a.dir, 'notes/a.md')}after linking\n`;
    write(a.dir, 'notes/a.md', edited);
    await a.ws.plugin.event('file_saved', { path: 'notes/a.md' });
    await waitFor(() => read(b.dir, 'notes/a.md')?.endsWith(`---\n${text}after linking\n`), 'the edit on the second device');
    expect(await body(b, 'notes/a.md')).toBe(`${text}after linking\n`);
    expect([...a.traps, ...b.traps]).toEqual([]);
    await closeDevice(b);
    await closeDevice(a);
  });

  it('workspace_root naming the root index file: the snapshot upload reads the folder, the root index keeps its text', async () => {
    const { a, workspaceId } = await linkedAfterOfflineEdit(family, () => 'README.md');
    const server = await serverSnapshot(workspaceId);
    expect(server['README.md']).toContain('description: My notes\n');
    expect(server['README.md'].endsWith('---\n# Journal\n\nThe root index.\n')).toBe(true);
    expect(server['notes/a.md'].endsWith('---\nalpha line\nsaved before linking\n')).toBe(true);
    const b = await joinDevice(family, workspaceId);
    // The second device's folder ends byte for byte like the author's (the source front matter travels with the file).
    await waitFor(() => read(b.dir, 'README.md') === README && read(b.dir, 'notes/a.md') === `${NOTE_A}saved before linking\n`, 'the files on the second device');
    expect(read(a.dir, 'README.md')).toBe(README);
    expect([...a.traps, ...b.traps]).toEqual([]);
    await closeDevice(b);
    await closeDevice(a);
  });

  it('a remote delete of a file already gone here is a delete: no empty file comes back, no body is blanked', async () => {
    const { a, workspaceId } = await linkedAfterOfflineEdit(family);
    const b = await joinDevice(family, workspaceId);
    await waitFor(() => read(b.dir, 'notes/a.md') !== null, 'the note on the second device');
    // Deleted on both devices; A's host has not reported its own delete yet when B's arrives.
    fs.rmSync(path.join(a.dir, 'notes', 'a.md'));
    fs.rmSync(path.join(b.dir, 'notes', 'a.md'));
    await b.ws.plugin.event('file_deleted', { path: 'notes/a.md' });
    await waitFor(async () => {
      const files = await command<[string, { deleted: boolean }][]>(a, 'ListCrdtFiles', { include_deleted: true });
      return files.some(([k, m]) => k === 'notes/a.md' && m.deleted);
    }, 'the delete on the first device');
    await a.ws.plugin.event('file_deleted', { path: 'notes/a.md' });
    // Both devices settle with the file gone: nothing restored, nothing written.
    await a.ws.plugin.command('GetSyncStatus', {});
    await b.ws.plugin.command('GetSyncStatus', {});
    await new Promise((r) => setTimeout(r, 300));
    for (const d of [a, b]) {
      expect(read(d.dir, 'notes/a.md'), d.dir).toBeNull();
      const files = await command<[string, unknown][]>(d, 'ListCrdtFiles');
      expect(files.map(([k]) => k)).toEqual(['README.md']);
    }
    expect((await serverSnapshot(workspaceId))['notes/a.md']).toBeUndefined();
    expect([...a.traps, ...b.traps]).toEqual([]);
    await closeDevice(b);
    await closeDevice(a);
  });

  it('a file created offline where another device created one: the server text stays, this text goes to a conflict copy', async () => {
    const { a, workspaceId } = await linkedAfterOfflineEdit(family);
    const b = await joinDevice(family, workspaceId);
    await closeDevice(a);
    // A, offline, creates x.md; B creates x.md with other text meanwhile.
    const offline = await openDevice(a.dir, family, false);
    expect(await offline.ws.plugin.init({ workspace_root: a.dir })).toBe('');
    const mine = '---\ntitle: X\n---\ntext written offline\n';
    write(a.dir, 'x.md', mine);
    await offline.ws.plugin.event('file_created', { path: 'x.md' });
    await closeDevice(offline);
    const theirs = '---\ntitle: X\n---\ntext from the other device\n';
    write(b.dir, 'x.md', theirs);
    await b.ws.plugin.event('file_created', { path: 'x.md' });
    await waitFor(async () => (await serverSnapshot(workspaceId))['x.md']?.endsWith('---\ntext from the other device\n'), 'the other text on the server');
    // A comes back online.
    const back = await openDevice(a.dir, family);
    expect(await back.ws.plugin.init({ workspace_root: a.dir })).toBe('');
    await waitSynced(back);
    await waitFor(() => fs.readdirSync(a.dir).some((f) => f.startsWith('x (conflict ')), 'the conflict copy');
    const copy = fs.readdirSync(a.dir).find((f) => f.startsWith('x (conflict '))!;
    expect(read(a.dir, copy)).toContain('text written offline');
    expect(await body(back, 'x.md')).toBe('text from the other device\n');
    expect(back.failures.filter((m) => m.includes('conflict copy') && m.includes('failed'))).toEqual([]);
    expect((back.ws.events as { error?: string }[]).filter((e) => typeof e.error === 'string' && e.error.includes('conflict'))).toEqual([]);
    expect([...back.traps, ...b.traps]).toEqual([]);
    await closeDevice(b);
    await closeDevice(back);
  });

  it('a snapshot download the server asks for (client_is_new) keeps the local files in an automatic snapshot first', async () => {
    const { a, workspaceId } = await linkedAfterOfflineEdit(family);
    // A folder with its own notes/a.md, never reported to the plugin: its workspace doc is empty, so the server says client_is_new.
    const dir = tempDir('family-c');
    const local = '---\ntitle: A\n---\nthis device had its own text\n';
    write(dir, 'notes/a.md', local);
    write(dir, 'only-here.md', '---\ntitle: Only here\n---\nnot on the server\n');
    const c = await openDevice(dir, family);
    expect(await c.ws.plugin.init({ workspace_root: dir, workspace_id: workspaceId, ...serverConfig() })).toBe('');
    await waitSynced(c);
    expect(read(dir, 'notes/a.md')).toContain('saved before linking');
    const snapshots = await command<{ id: string; name: string; automatic: boolean }[]>(c, 'ListSnapshots');
    const before = snapshots.find((s) => s.name === 'Before downloading the workspace');
    expect(before, JSON.stringify(snapshots)).toMatchObject({ automatic: true });
    const kept = await command<{ content: string }>(c, 'GetSnapshotFile', { id: before!.id, path: 'notes/a.md' });
    expect(kept.content).toBe(local);
    expect(c.traps).toEqual([]);
    await closeDevice(c);
    await closeDevice(a);
  });
});

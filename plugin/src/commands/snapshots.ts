/**
 * Named snapshots of the whole workspace, kept in plugin storage
 * (snapshot-store.ts): ListSnapshots, CreateSnapshot, GetSnapshot,
 * GetSnapshotFile, RestoreSnapshot, DeleteSnapshot.
 *
 * A snapshot is a zip of the workspace files as the CRDT holds them (front
 * matter rendered from the metadata, the body from the body doc, or from the
 * file when its body doc is empty), sorted, plus a dot entry
 * `.diaryx-snapshot.json` with the exact metadata of every file. Dot entries
 * are skipped by snapshot imports, so the zip is also a valid server snapshot.
 *
 * Restoring first takes an automatic snapshot ("Before restoring <name>"),
 * then writes every file back as new local changes (write-back.ts) and
 * tombstones the files created after the snapshot. Automatic snapshots are
 * also taken before DownloadWorkspace imports and before a workspace-wide
 * RestoreVersion; at most 10 are kept.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { zipEntryTime } from '../../../common/src/zip-entry-time';
import { bodyForWrite, parseFileMarkdown, renderFileMarkdown } from '../../../common/src/workspace/frontmatter';
import { metadataFromJson, serializeMetadata, type FileMetadata } from '../../../common/src/workspace/metadata';
import { compareKeys, normalizeSyncKey } from '../../../common/src/workspace/paths';
import type { SyncRuntime } from '../runtime';
import { isSkippedSnapshotPath, normalizeSnapshotEntryPath } from '../snapshot-zip';
import { SnapshotStore, SnapshotStoreError, type SnapshotInfo } from '../snapshot-store';
import type { CommandTable } from './table';
import { CommandError, optionalString, requireString, type Params } from './params';
import { removeFile, writeBackFile } from './write-back';

export const SNAPSHOT_META_ENTRY = '.diaryx-snapshot.json';
/** Deflate level for snapshot zips: fast enough in the interpreter, still small for Markdown. */
const ZIP_LEVEL = 1;

interface SnapshotFileEntry {
  path: string;
  metadata: FileMetadata;
  body: string;
  text: string;
}

interface SnapshotMeta {
  version: 1;
  name: string;
  created_at: number;
  automatic: boolean;
  files: Record<string, unknown>;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function newSnapshotId(now: number): string {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  return `${now.toString(36)}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Every active file as the CRDT holds it, sorted by path. With
 * `withUntracked`, also the Markdown files in the folder that the CRDT does
 * not hold (as they are on disk): a snapshot download into a folder whose
 * files the plugin was never told about overwrites them too.
 */
function renderWorkspace(rt: SyncRuntime, withUntracked = false): SnapshotFileEntry[] {
  const { state, disk } = rt;
  const out: SnapshotFileEntry[] = [];
  for (const [path, metadata] of state.workspace.listFiles()) {
    const docBody = state.bodies.has(path) ? state.bodies.getBody(path) : '';
    const body = docBody === '' ? bodyForWrite('', disk.readBody(path)) : docBody;
    out.push({ path, metadata, body, text: renderFileMarkdown(metadata, body) });
  }
  if (withUntracked) {
    const tracked = new Set(out.map((f) => f.path));
    for (const path of disk.listMarkdownKeys()) {
      if (tracked.has(path)) continue;
      const text = disk.read(path);
      if (text === null) continue;
      try {
        const parsed = parseFileMarkdown(path, text, state.now);
        out.push({ path, metadata: parsed.metadata, body: parsed.body, text });
      } catch (e) {
        rt.host.log('warn', `[snapshots] ${path} left out: ${(e as Error).message}`);
      }
    }
  }
  return out.sort((a, b) => compareKeys(a.path, b.path));
}

function buildZip(files: SnapshotFileEntry[], meta: Omit<SnapshotMeta, 'files'>): Uint8Array {
  const zippable: Zippable = {};
  const metadata: Record<string, unknown> = {};
  // Entry times are the snapshot's (host clock), not the guest's own clock.
  const mtime = zipEntryTime(meta.created_at);
  for (const f of files) {
    zippable[f.path] = [utf8.encode(f.text), { level: ZIP_LEVEL, mtime }];
    metadata[f.path] = JSON.parse(serializeMetadata(f.metadata)) as unknown;
  }
  const full: SnapshotMeta = { ...meta, files: metadata };
  zippable[SNAPSHOT_META_ENTRY] = [utf8.encode(JSON.stringify(full)), { level: ZIP_LEVEL, mtime }];
  return zipSync(zippable);
}

/** Body of a rendered file: the text after the front matter `metadata` renders to. */
function bodyOf(text: string, metadata: FileMetadata): string | null {
  const prefix = renderFileMarkdown(metadata, '');
  return text.startsWith(prefix) ? text.slice(prefix.length) : null;
}

/** Reads a stored snapshot zip back into files (exact metadata when the zip carries it). */
function readZip(rt: SyncRuntime, zip: Uint8Array): { meta: Partial<SnapshotMeta>; files: SnapshotFileEntry[] } {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (e) {
    throw new CommandError(`Invalid snapshot zip: ${(e as Error).message}`);
  }
  let meta: Partial<SnapshotMeta> = {};
  const metaBytes = entries[SNAPSHOT_META_ENTRY];
  if (metaBytes) {
    try {
      meta = JSON.parse(fromUtf8.decode(metaBytes)) as Partial<SnapshotMeta>;
    } catch {
      rt.host.log('warn', '[snapshots] snapshot metadata does not parse; reading the front matter instead');
    }
  }
  const files: SnapshotFileEntry[] = [];
  for (const [name, data] of Object.entries(entries)) {
    if (name.endsWith('/')) continue;
    const path = normalizeSnapshotEntryPath(name);
    if (path === null || isSkippedSnapshotPath(path) || !path.toLowerCase().endsWith('.md')) continue;
    const text = fromUtf8.decode(data);
    const stored = meta.files?.[path] === undefined ? null : metadataFromJson(meta.files[path]);
    const body = stored ? bodyOf(text, stored) : null;
    if (stored && body !== null) {
      files.push({ path, metadata: stored, body, text });
    } else {
      const parsed = parseFileMarkdown(path, text, rt.state.now);
      files.push({ path, metadata: parsed.metadata, body: parsed.body, text });
    }
  }
  return { meta, files: files.sort((a, b) => compareKeys(a.path, b.path)) };
}

function store(rt: SyncRuntime): SnapshotStore {
  return new SnapshotStore(rt.host);
}

function requireSnapshot(rt: SyncRuntime, params: Params): SnapshotInfo {
  const id = requireString(params, 'id');
  const info = store(rt).get(id);
  if (!info) throw new CommandError(`Unknown snapshot: ${id}`);
  return info;
}

function loadSnapshot(rt: SyncRuntime, info: SnapshotInfo): SnapshotFileEntry[] {
  try {
    return readZip(rt, store(rt).load(info)).files;
  } catch (e) {
    if (e instanceof SnapshotStoreError) throw new CommandError(e.message);
    throw e;
  }
}

function publicInfo(s: SnapshotInfo) {
  return { id: s.id, name: s.name, created_at: s.created_at, automatic: s.automatic, file_count: s.file_count, size: s.size };
}

/** Takes a snapshot of the workspace now (with the untracked files on disk when `withUntracked`). */
export function createSnapshot(rt: SyncRuntime, name: string, automatic: boolean, withUntracked = false): SnapshotInfo {
  const created_at = rt.state.now();
  const files = renderWorkspace(rt, withUntracked);
  const zip = buildZip(files, { version: 1, name, created_at, automatic });
  try {
    const { info, dropped } = store(rt).save({ id: newSnapshotId(created_at), name, created_at, automatic, file_count: files.length }, zip);
    if (dropped.length > 0) rt.host.log('info', `[snapshots] dropped ${dropped.length} old automatic snapshot(s)`);
    return info;
  } catch (e) {
    if (e instanceof SnapshotStoreError) throw new CommandError(e.message);
    throw e;
  }
}

/**
 * An automatic snapshot before a bulk change; skipped when the workspace has
 * no files (nothing to lose). A failure is reported and stops the change.
 * `withUntracked`: the change writes over the folder (a snapshot download),
 * so files on disk the CRDT does not hold are kept too.
 */
export function automaticSnapshot(rt: SyncRuntime, name: string, withUntracked = false): SnapshotInfo | null {
  if (rt.state.workspace.activeKeys().length === 0 && (!withUntracked || rt.disk.listMarkdownKeys().length === 0)) return null;
  try {
    return createSnapshot(rt, name, true, withUntracked);
  } catch (e) {
    throw new CommandError(`Could not take the automatic snapshot "${name}": ${(e as Error).message}`);
  }
}

function defaultName(rt: SyncRuntime): string {
  const iso = new Date(rt.state.now()).toISOString();
  return `Snapshot ${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

export const SNAPSHOT_COMMANDS: CommandTable = {
  ListSnapshots: (rt) =>
    store(rt)
      .list()
      .sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1))
      .map(publicInfo),
  CreateSnapshot: (rt, p) => {
    const given = optionalString(p, 'name')?.trim() ?? '';
    return publicInfo(createSnapshot(rt, given === '' ? defaultName(rt) : given, false));
  },
  GetSnapshot: (rt, p) => {
    const info = requireSnapshot(rt, p);
    const files = loadSnapshot(rt, info).map((f) => ({ path: f.path, title: f.metadata.title, size: utf8.encode(f.text).length }));
    return { ...publicInfo(info), files };
  },
  GetSnapshotFile: (rt, p) => {
    const info = requireSnapshot(rt, p);
    const path = normalizeSyncKey(requireString(p, 'path'));
    const file = loadSnapshot(rt, info).find((f) => f.path === path);
    if (!file) throw new CommandError(`No file ${path} in snapshot ${info.id}`);
    return { path: file.path, content: file.text, metadata: file.metadata };
  },
  RestoreSnapshot: (rt, p) => {
    const info = requireSnapshot(rt, p);
    const files = loadSnapshot(rt, info);
    const backup = automaticSnapshot(rt, `Before restoring ${info.name}`);
    let restored = 0;
    let removed = 0;
    const keep = new Set<string>();
    for (const f of files) {
      const key = normalizeSyncKey(f.path);
      keep.add(key);
      const r = writeBackFile(rt, key, f.metadata, f.body);
      if (r.metadataChanged || r.bodyChanged || r.diskChanged) restored++;
    }
    for (const key of rt.state.workspace.activeKeys()) {
      if (!keep.has(key) && removeFile(rt, key)) removed++;
    }
    return { files_restored: restored, files_removed: removed, backup_id: backup?.id ?? null };
  },
  DeleteSnapshot: (rt, p) => {
    const id = requireString(p, 'id');
    if (!store(rt).delete(id)) throw new CommandError(`Unknown snapshot: ${id}`);
    return { deleted: true };
  },
};

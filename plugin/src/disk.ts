/**
 * The workspace folder as the plugin sees it through the host: host paths for
 * workspace keys, reading local files into metadata + body, and writing remote
 * changes (front matter from the workspace metadata, body from the body doc)
 * in the original's file format.
 *
 * Remote deletes never destroy an unsynced local edit: when the file on disk
 * (or its body doc) holds changes the other devices have not seen, the delete
 * is turned into a restore of the file with those changes (see applyDelete).
 */
import { bodyForWrite, mergeWithDisk, parseDiskFrontmatter, parseFileMarkdown, renderFileMarkdown, splitFrontmatter } from '../../common/src/workspace/frontmatter';
import { metadataContentEqual, metadataEqual, type FileMetadata } from '../../common/src/workspace/metadata';
import { isTempFile, normalizeSyncPath } from '../../common/src/workspace/paths';
import { renderFaithful, sameStatedMetadata, withSourceFrontmatter } from '../../common/src/workspace/source-frontmatter';
import { FileTooLargeError, MAX_SYNCED_FILE_BYTES, oversize } from './file-limits';
import { HostError, type HostBridge } from './host/bridge';
import type { PluginState } from './state';

/** The folder that holds the workspace files: the root itself, or the folder of a root index file. */
export function workspaceDir(root: string | null): string {
  if (root === null) return '';
  let r = root.replace(/\\/g, '/').replace(/\/+$/, '');
  if (r.toLowerCase().endsWith('.md')) r = r.includes('/') ? r.slice(0, r.lastIndexOf('/')) : '';
  return r === '.' ? '' : r;
}

/**
 * Whether a parsed local file adds nothing to the workspace entry `current`:
 * same content, and the same `updated` time when the file states one (a save
 * that only moves `updated` is still a change the other devices must see).
 */
export function localMetadataUnchanged(current: FileMetadata | null, parsed: { metadata: FileMetadata; timed: boolean }): boolean {
  if (current === null || current.deleted || !metadataContentEqual(current, parsed.metadata)) return false;
  return !parsed.timed || current.modified_at === parsed.metadata.modified_at;
}

/** The host functions the folder is reached through. */
export type DiskHost = Pick<HostBridge, 'fileExists' | 'readFile' | 'writeFile' | 'deleteFile' | 'listFiles' | 'log'>;

export class WorkspaceDisk {
  /** Last metadata read from or written to disk per key (metadata echo filter). */
  private readonly knownMetadata = new Map<string, FileMetadata>();

  constructor(
    private readonly state: PluginState,
    private readonly host: DiskHost,
  ) {}

  private get dir(): string {
    return workspaceDir(this.state.workspaceRoot);
  }

  /** Host path of a workspace key. */
  hostPath(key: string): string {
    const dir = this.dir;
    return dir === '' ? key : `${dir}/${key}`;
  }

  /** Workspace key of a host path (absolute or relative); throws PathError. */
  keyOf(path: string): string {
    return normalizeSyncPath(path, this.dir === '' ? null : this.dir);
  }

  /** Writes `text` as the file of `key`; throws HostError when the host fails. */
  writeText(key: string, text: string): void {
    this.host.writeFile(this.hostPath(key), text);
  }

  /** Deletes the file of `key`; throws HostError when the host fails. */
  deleteKey(key: string): void {
    this.host.deleteFile(this.hostPath(key));
  }

  exists(key: string): boolean {
    return this.host.fileExists(this.hostPath(key));
  }

  /**
   * File text, or null when it does not exist or cannot be read. Existence
   * is asked first: some hosts answer `""` for a missing file (which would
   * read as an emptied file: a blanked body, or a delete taken for an
   * unsynced edit), others fail the whole call (a trap) when reading one.
   */
  read(key: string): string | null {
    const path = this.hostPath(key);
    if (!this.host.fileExists(path)) return null;
    try {
      return this.host.readFile(path);
    } catch (e) {
      if (!(e instanceof HostError)) throw e;
      return null;
    }
  }

  /** Body text of a file on disk (text after the front matter), or null. */
  readBody(key: string): string | null {
    const text = this.read(key);
    return text === null ? null : splitFrontmatter(text).body;
  }

  /**
   * Metadata and body of a local file, as stored in the workspace doc.
   * `timed` tells whether the file states its `updated` time (otherwise
   * modified_at is the current time).
   */
  parseLocal(key: string, text: string): { metadata: FileMetadata; body: string; timed: boolean } {
    const size = oversize(text);
    if (size !== null) {
      const error = new FileTooLargeError(key, size, MAX_SYNCED_FILE_BYTES);
      this.state.reports.reportSkipped(error);
      throw error;
    }
    this.state.reports.skippedFiles.delete(key);
    let timed = true;
    const parsed = parseFileMarkdown(key, text, () => {
      timed = false;
      return this.state.now();
    });
    // The block as written goes along, so other devices write the same bytes (common/src/workspace/source-frontmatter.ts).
    const metadata = withSourceFrontmatter(parsed.metadata, text);
    this.knownMetadata.set(key, metadata);
    return { metadata, body: parsed.body, timed };
  }

  /**
   * True when remote metadata equals what this device last read or wrote for
   * the key (content only, or with modified_at too when `withTime`).
   */
  isMetadataEcho(key: string, meta: FileMetadata, withTime = false): boolean {
    const known = this.knownMetadata.get(key);
    if (known === undefined || !(withTime ? metadataEqual(known, meta) : metadataContentEqual(known, meta))) return false;
    // A file that is gone (deleted or moved away here) holds nothing: an entry coming back must be written.
    return this.exists(key);
  }

  /** True when the front matter of `text` is what this device last read or wrote for the key. */
  private frontmatterKnown(key: string, text: string): boolean {
    const known = this.knownMetadata.get(key);
    if (known === undefined) return false;
    try {
      return sameStatedMetadata(parseFileMarkdown(key, text, this.state.now).metadata, known);
    } catch {
      return false;
    }
  }

  /** Writes one file from the CRDT: its metadata (merged with unknown front matter on disk), body from the body doc. */
  writeFromCrdt(key: string): boolean {
    if (isTempFile(key)) return false;
    const meta = this.state.workspace.getFile(key);
    if (meta === null) return this.writeBodyOnly(key);
    if (meta.deleted) return false;
    const current = this.read(key);
    const disk = current === null ? null : parseDiskFrontmatter(key, current, this.state.now);
    // Front matter this device already knows adds nothing to the CRDT's: the
    // CRDT's metadata is written as it is, so a field removed on another device
    // (or the losing side of two creates) goes away here too. Only front matter
    // the CRDT has not seen fills the fields it leaves unset.
    const merged = current !== null && this.frontmatterKnown(key, current) ? meta : mergeWithDisk(meta, disk?.metadata ?? null);
    // A body doc with history holds the text, even an emptied one; only a doc
    // that never had any leaves the file's own text in place.
    const crdtBody = this.state.bodies.has(key) ? this.state.bodies.getBody(key) : '';
    const body = this.state.bodies.stateVector(key).length > 1 ? crdtBody : bodyForWrite(crdtBody, disk?.body ?? null);
    const text = renderFaithful(key, merged, body, current);
    this.knownMetadata.set(key, merged);
    this.state.bodies.trackContent(key, body);
    if (text === current) return false;
    this.host.writeFile(this.hostPath(key), text);
    return true;
  }

  /**
   * Writes the body doc's text under the file's own front matter, for a file
   * whose workspace entry is missing for a while: a remote overwrite of the
   * entry whose delete arrived before its new value (which waits for missing
   * updates). Left unwritten, the file would fall behind its body doc, and
   * the next local save would take the remote text out again.
   */
  private writeBodyOnly(key: string): boolean {
    const current = this.read(key);
    if (current === null || !this.state.bodies.has(key) || this.state.bodies.stateVector(key).length <= 1) return false;
    const body = this.state.bodies.getBody(key);
    const head = current.slice(0, current.length - splitFrontmatter(current).body.length);
    this.state.bodies.trackContent(key, body);
    const text = head + body;
    if (text === current) return false;
    this.host.writeFile(this.hostPath(key), text);
    return true;
  }

  /**
   * Keeps text that lost against the server as a new file next to the
   * original (`name (conflict <device>).md`), with the original's metadata.
   * The host's folder watcher reports it like any new file, so it syncs.
   * An existing file at that name (an earlier copy, maybe edited since) is
   * never overwritten: the next free `(conflict <device> N)` name is used,
   * and nothing is written when a copy already holds this text.
   */
  writeConflictCopy(key: string, body: string): string | null {
    const meta = this.state.workspace.getFile(key);
    const copyKey = this.freeConflictKey(key, body);
    if (copyKey === null) return null;
    if (this.exists(copyKey)) return copyKey;
    try {
      const text = meta ? renderFileMarkdown({ ...meta, filename: copyKey.split('/').pop() ?? copyKey }, body) : body;
      this.host.writeFile(this.hostPath(copyKey), text);
      const parsed = this.parseLocal(copyKey, text);
      this.state.workspace.setFile(copyKey, parsed.metadata);
      this.state.bodies.setBody(copyKey, parsed.body);
      this.host.log('warn', `[sync] ${key}: the server had different text; this device's text is kept in ${copyKey}`);
      return copyKey;
    } catch (e) {
      this.state.reports.reportError(`keeping a conflict copy of ${key} failed: ${(e as Error).message}`);
      return null;
    }
  }

  /**
   * The key for a conflict copy of `key` holding `body`: an existing copy
   * with exactly that body, else the first name no file or live entry uses.
   */
  private freeConflictKey(key: string, body: string): string | null {
    const dot = key.toLowerCase().endsWith('.md') ? key.length - 3 : key.length;
    const device = this.state.deviceId.slice(0, 8);
    for (let n = 1; n <= 100; n++) {
      const candidate = `${key.slice(0, dot)} (conflict ${device}${n === 1 ? '' : ` ${n}`})${key.slice(dot)}`;
      const existing = this.readBody(candidate);
      if (existing === body) return candidate;
      const entry = this.state.workspace.getFile(candidate);
      if (existing === null && !this.exists(candidate) && (entry === null || entry.deleted)) return candidate;
    }
    this.state.reports.reportError(`keeping a conflict copy of ${key} failed: no free conflict file name`);
    return null;
  }

  /** Moves a file (read + write + delete through the host). */
  move(oldKey: string, newKey: string): void {
    const text = this.read(oldKey);
    if (text === null) throw new Error(`Source file not found: ${oldKey}`);
    if (this.exists(newKey)) throw new Error(`Destination already exists: ${newKey}`);
    this.host.writeFile(this.hostPath(newKey), text);
    this.host.deleteFile(this.hostPath(oldKey));
  }

  /**
   * A remote delete of `key`. Returns false when the file is kept because it
   * holds an unsynced local edit; the caller then restores the entry.
   */
  applyDelete(key: string, unsyncedBody: boolean): boolean {
    const text = this.read(key);
    if (text === null) return true;
    const diskBody = splitFrontmatter(text).body;
    const docBody = this.state.bodies.has(key) ? this.state.bodies.getBody(key) : null;
    if (unsyncedBody || (docBody !== null && diskBody !== docBody)) return false;
    this.host.deleteFile(this.hostPath(key));
    this.knownMetadata.delete(key);
    return true;
  }

  /** Applies remote workspace changes to disk: renames first, then writes and deletes. */
  applyRemoteChanges(changed: string[], renames: [string, string][], unsynced: (key: string) => boolean): string[] {
    const restored: string[] = [];
    const renamedOld = new Set<string>();
    for (const [oldKey, newKey] of renames) {
      renamedOld.add(oldKey);
      const oldExists = this.exists(oldKey);
      const newExists = this.exists(newKey);
      try {
        if (oldExists && !newExists) this.move(oldKey, newKey);
        else if (oldExists && newExists) this.host.deleteFile(this.hostPath(oldKey));
      } catch (e) {
        this.state.reports.reportError(`rename ${oldKey} -> ${newKey} failed: ${(e as Error).message}`);
      }
      this.writeSafely(newKey);
    }
    for (const key of changed) {
      if (renamedOld.has(key)) continue;
      const meta = this.state.workspace.getFile(key);
      if (!meta) continue;
      if (meta.deleted) {
        if (!this.applyDelete(key, unsynced(key))) restored.push(key);
      } else {
        this.writeSafely(key);
      }
    }
    return restored;
  }

  /** Writes a file from the CRDT; a host failure becomes an error event, not a crash. */
  writeSafely(key: string): void {
    try {
      this.writeFromCrdt(key);
    } catch (e) {
      this.state.reports.reportError(`writing ${key} failed: ${(e as Error).message}`);
    }
  }

  /** Keys of Markdown files on disk under the workspace folder. */
  listMarkdownKeys(): string[] {
    const dir = this.dir;
    const keys: string[] = [];
    for (const entry of this.host.listFiles(dir)) {
      if (!entry.toLowerCase().endsWith('.md')) continue;
      let key: string;
      try {
        key = this.keyOf(entry);
      } catch {
        continue;
      }
      if (key.split('/').some((part) => part.startsWith('.')) || isTempFile(key)) continue;
      keys.push(key);
    }
    return [...new Set(keys)].sort();
  }
}

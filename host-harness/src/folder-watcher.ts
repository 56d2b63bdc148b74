/**
 * Turns real changes in a workspace folder into the plugin's file events:
 * `file_created {path}`, `file_saved {path}`, `file_deleted {path}` and
 * `file_moved {old_path, new_path}`.
 *
 * chokidar only says which paths to look at. After a quiet period (a burst of
 * changes is handled together) each such path is hashed and compared with
 * what the watcher last knew: new -> created, gone -> deleted, different
 * content -> saved, same content -> nothing. A deletion is held back for a
 * short window: a file created meanwhile with the same content turns the
 * pair into `file_moved`. Before a held deletion goes out, the folder is
 * walked for files the watcher does not know yet: chokidar misses the `add`
 * of a file moved into a folder it has not started watching (`mkdir -p
 * a/b; mv x.md a/b/`), and such a move must not become a delete only. A new
 * folder is also walked again shortly after it appeared, for the same reason.
 *
 * Ignored: any path with a component starting with `.` (dot-directories such
 * as `.diaryx`, dot-files, the harness's temp files), and the files the
 * harness itself just wrote or deleted for the plugin, recognised by path and
 * content hash for a few seconds (`noteOwnWrite` / `noteOwnDelete`).
 */
import { watch, type FSWatcher } from 'chokidar';
import fs from 'node:fs';
import path from 'node:path';
import { sha256Hex } from './workspace-fs';

export type FolderEvent =
  | { type: 'file_created' | 'file_saved' | 'file_deleted'; payload: { path: string } }
  | { type: 'file_moved'; payload: { old_path: string; new_path: string } };

export interface FolderWatcherOptions {
  dir: string;
  /** Receives each event; events are delivered one at a time, in order. */
  onEvent: (event: FolderEvent) => void | Promise<void>;
  /** Quiet period before a burst is processed (default 150 ms). */
  debounceMs?: number;
  /** Longest a burst is deferred by continuous changes (default 1000 ms). */
  maxWaitMs?: number;
  /** How long a deletion waits for a matching creation (default 500 ms). */
  moveWindowMs?: number;
  /** How long the harness's own writes and deletes are remembered (default 5000 ms). */
  ownWriteWindowMs?: number;
  /** Extra paths to ignore (workspace-relative, `/` separators). */
  ignore?: (relPath: string) => boolean;
  /** Poll instead of native events (network drives, some containers). */
  usePolling?: boolean;
  /** Called when handling an event fails (the watcher carries on). */
  onError?: (error: unknown) => void;
}

interface PendingDelete {
  path: string;
  hash: string;
  /** When the deletion goes out unless a matching creation turns up. */
  until: number;
}

/** How long after a folder appeared it is walked again for files chokidar did not report. */
const NEW_FOLDER_RESCAN_MS = 1000;

/** Whether a workspace-relative path has a component starting with `.`. */
export function isDotPath(rel: string): boolean {
  return rel.split('/').some((part) => part.startsWith('.'));
}

export class FolderWatcher {
  readonly root: string;
  /** Content hash of every file the watcher knows, by workspace-relative path. */
  readonly known = new Map<string, string>();
  private watcher: FSWatcher | null = null;
  private dirty = new Set<string>();
  private firstDirtyAt = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private pendingDeletes = new Map<string, PendingDelete>();
  private deleteTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private ownWrites = new Map<string, { hash: string; until: number }>();
  private ownDeletes = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: FolderWatcherOptions) {
    this.root = path.resolve(options.dir);
  }

  private ignored(rel: string): boolean {
    return rel !== '' && (isDotPath(rel) || (this.options.ignore?.(rel) ?? false));
  }

  private rel(abs: string): string | null {
    const rel = path.relative(this.root, abs);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
    return rel.split(path.sep).join('/');
  }

  /** Starts watching; resolves once the initial scan is done. */
  async start(): Promise<void> {
    const watcher = watch(this.root, {
      ignoreInitial: true,
      // Deletions are reported at once; the watcher does its own pairing of
      // delete + create (moves, editors' replace-on-save) over whole bursts.
      atomic: false,
      usePolling: this.options.usePolling ?? false,
      interval: 100,
      ignored: (p: string) => {
        const rel = this.rel(p);
        return rel === null || this.ignored(rel);
      },
    });
    this.watcher = watcher;
    watcher.on('all', (event: string, p: string) => this.raw(event, p));
    watcher.on('error', (e: unknown) => this.options.onError?.(e));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.scan(this.root);
  }

  private scan(dirAbs: string): void {
    for (const rel of this.filesUnder(dirAbs)) {
      const hash = this.hashOf(rel);
      if (hash !== null) this.known.set(rel, hash);
    }
  }

  /** Workspace-relative paths of the (not ignored) files below `dirAbs`; an unreadable folder counts as empty. */
  private filesUnder(dirAbs: string, out: string[] = []): string[] {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dirAbs, { withFileTypes: true });
    } catch {
      return out;
    }
    for (const e of entries) {
      const abs = path.join(dirAbs, e.name);
      const rel = this.rel(abs);
      if (rel === null || this.ignored(rel)) continue;
      if (e.isDirectory()) this.filesUnder(abs, out);
      else if (e.isFile()) out.push(rel);
    }
    return out;
  }

  /** Records a file the harness wrote for the plugin, so its change is not reported back. */
  noteOwnWrite(relPath: string, data: Uint8Array): void {
    const window = this.options.ownWriteWindowMs ?? 5000;
    this.ownWrites.set(relPath, { hash: sha256Hex(data), until: Date.now() + window });
  }

  /** Records a file the harness deleted for the plugin. */
  noteOwnDelete(relPath: string): void {
    this.ownDeletes.set(relPath, Date.now() + (this.options.ownWriteWindowMs ?? 5000));
    this.ownWrites.delete(relPath);
  }

  private raw(event: string, abs: string): void {
    if (this.closed) return;
    const rel = this.rel(abs);
    if (rel === null || rel === '' || this.ignored(rel)) return;
    if (event === 'unlinkDir') {
      for (const p of this.known.keys()) if (p.startsWith(`${rel}/`)) this.dirty.add(p);
    } else if (event === 'addDir') {
      // Files moved in with a directory may arrive without their own events,
      // and files moved into it before chokidar watches it never get one.
      for (const rel of this.filesUnder(abs)) this.dirty.add(rel);
      this.rescanSoon();
    } else {
      this.dirty.add(rel);
    }
    this.schedule();
  }

  private schedule(): void {
    const now = Date.now();
    if (this.flushTimer === null) this.firstDirtyAt = now;
    else clearTimeout(this.flushTimer);
    const debounce = this.options.debounceMs ?? 150;
    const maxWait = this.options.maxWaitMs ?? 1000;
    const delay = Math.max(0, Math.min(debounce, this.firstDirtyAt + maxWait - now));
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, delay);
  }

  /** Walks the folder for files the watcher does not know (missed `add` events) and marks them. */
  private sweepUnknown(): void {
    for (const rel of this.filesUnder(this.root)) if (!this.known.has(rel)) this.dirty.add(rel);
  }

  private rescanSoon(): void {
    if (this.rescanTimer !== null) clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => {
      this.rescanTimer = null;
      if (this.closed) return;
      this.sweepUnknown();
      if (this.dirty.size > 0) this.schedule();
    }, NEW_FOLDER_RESCAN_MS);
  }

  private hashOf(rel: string): string | null {
    try {
      const abs = path.join(this.root, ...rel.split('/'));
      if (!fs.statSync(abs).isFile()) return null;
      return sha256Hex(fs.readFileSync(abs));
    } catch {
      return null;
    }
  }

  private emit(event: FolderEvent): void {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        await this.options.onEvent(event);
      } catch (e) {
        this.options.onError?.(e);
      }
    });
  }

  private expireOwn(now: number): void {
    for (const [p, w] of this.ownWrites) if (w.until < now) this.ownWrites.delete(p);
    for (const [p, until] of this.ownDeletes) if (until < now) this.ownDeletes.delete(p);
  }

  /** Processes the paths changed since the last burst. */
  private flush(): void {
    if (this.closed) return;
    const now = Date.now();
    this.expireOwn(now);
    const paths = [...this.dirty].sort();
    this.dirty = new Set();
    const created: { path: string; hash: string }[] = [];
    const deleted: { path: string; hash: string }[] = [];
    for (const p of paths) {
      const current = this.hashOf(p);
      const prev = this.known.get(p);
      if (current === null) this.known.delete(p);
      else this.known.set(p, current);
      const own = this.ownWrites.get(p);
      if (current !== null && own && own.hash === current) continue;
      if (current === null && this.ownDeletes.has(p)) continue;
      const held = this.pendingDeletes.get(p);
      if (held && current !== null) {
        // Deleted, then re-created at the same path: one save (or nothing if unchanged).
        this.pendingDeletes.delete(p);
        if (held.hash !== current) this.emit({ type: 'file_saved', payload: { path: p } });
        continue;
      }
      if (prev === undefined && current !== null) created.push({ path: p, hash: current });
      else if (prev !== undefined && current === null) deleted.push({ path: p, hash: prev });
      else if (prev !== undefined && current !== null && prev !== current) this.emit({ type: 'file_saved', payload: { path: p } });
    }
    // Pair creations with deletions of the same content (held ones first, then this burst's).
    const unpaired = new Map(deleted.map((d) => [d.path, d]));
    for (const c of created) {
      const candidates = [
        ...[...this.pendingDeletes.values()].filter((d) => d.hash === c.hash),
        ...[...unpaired.values()].filter((d) => d.hash === c.hash),
      ];
      const base = path.posix.basename(c.path);
      const match = candidates.find((d) => path.posix.basename(d.path) === base) ?? candidates[0];
      if (!match) {
        this.emit({ type: 'file_created', payload: { path: c.path } });
        continue;
      }
      const held = this.pendingDeletes.get(match.path);
      if (held && held.hash === match.hash) {
        this.pendingDeletes.delete(match.path);
      } else {
        unpaired.delete(match.path);
      }
      this.emit({ type: 'file_moved', payload: { old_path: match.path, new_path: c.path } });
    }
    const window = this.options.moveWindowMs ?? 500;
    for (const d of unpaired.values()) this.pendingDeletes.set(d.path, { path: d.path, hash: d.hash, until: now + window });
    this.scheduleDeletes();
  }

  private scheduleDeletes(): void {
    if (this.deleteTimer !== null) clearTimeout(this.deleteTimer);
    this.deleteTimer = null;
    if (this.pendingDeletes.size === 0 || this.closed) return;
    const first = Math.min(...[...this.pendingDeletes.values()].map((d) => d.until));
    this.deleteTimer = setTimeout(() => {
      this.deleteTimer = null;
      this.releaseDeletes();
    }, Math.max(0, first - Date.now()));
  }

  /**
   * Sends the deletions whose window is over. First the folder is walked once
   * for files chokidar did not report: one with a held deletion's content
   * makes that pair a move.
   */
  private releaseDeletes(): void {
    if (this.closed) return;
    this.sweepUnknown();
    if (this.dirty.size > 0) {
      if (this.flushTimer !== null) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.flush();
    }
    const now = Date.now();
    for (const d of [...this.pendingDeletes.values()]) {
      if (d.until > now) continue;
      this.pendingDeletes.delete(d.path);
      this.emit({ type: 'file_deleted', payload: { path: d.path } });
    }
    this.scheduleDeletes();
  }

  /** Whether changes are still waiting to be processed or delivered. */
  busy(): boolean {
    return this.flushTimer !== null || this.pendingDeletes.size > 0 || this.dirty.size > 0;
  }

  /** Resolves when every event emitted so far has been delivered. */
  async delivered(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.chain;
      await seen;
    } while (seen !== this.chain);
  }

  /** Stops watching; held deletions are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    this.deleteTimer = null;
    this.rescanTimer = null;
    this.pendingDeletes.clear();
    await this.watcher?.close();
    this.watcher = null;
    await this.chain;
  }
}

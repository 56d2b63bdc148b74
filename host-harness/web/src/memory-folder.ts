/**
 * The in-browser workspace: a folder of files and the plugin's storage, held
 * in memory (host functions are synchronous) and persisted to IndexedDB in the
 * background. Every change is written through within a few milliseconds; a
 * page reload reads everything back before the plugin starts.
 *
 * Path rules: the same as every host's (common/src/host/paths.ts).
 */
import { normalizeWorkspacePath } from '../../../common/src/host/paths';

type Store = 'files' | 'storage';
export type FolderChange = { kind: 'write' | 'delete'; path: string; byPlugin: boolean };

function openDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore('files');
      req.result.createObjectStore('storage');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function readAll(db: IDBDatabase, store: Store): Promise<Map<string, Uint8Array>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, Uint8Array>();
    const tx = db.transaction(store, 'readonly');
    const req = tx.objectStore(store).openCursor();
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) return;
      out.set(String(cursor.key), new Uint8Array(cursor.value as ArrayBuffer));
      cursor.continue();
    };
    tx.oncomplete = () => resolve(out);
    tx.onerror = () => reject(tx.error);
  });
}

/** One persisted key-value map (workspace files or plugin storage). */
class PersistedMap {
  readonly data: Map<string, Uint8Array>;
  private readonly pending = new Map<string, Uint8Array | null>();
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: IDBDatabase | null,
    private readonly store: Store,
    initial: Map<string, Uint8Array>,
  ) {
    this.data = initial;
  }

  set(key: string, value: Uint8Array): void {
    this.data.set(key, value);
    this.schedule(key, value);
  }

  delete(key: string): boolean {
    const had = this.data.delete(key);
    if (had) this.schedule(key, null);
    return had;
  }

  private schedule(key: string, value: Uint8Array | null): void {
    if (!this.db) return;
    this.pending.set(key, value);
    if (!this.flushing) this.flushing = Promise.resolve().then(() => this.flush());
  }

  private flush(): Promise<void> {
    const batch = [...this.pending];
    this.pending.clear();
    return new Promise<void>((resolve) => {
      const tx = this.db!.transaction(this.store, 'readwrite');
      const os = tx.objectStore(this.store);
      for (const [key, value] of batch) {
        if (value === null) os.delete(key);
        else os.put(value.slice().buffer, key);
      }
      tx.oncomplete = tx.onerror = tx.onabort = () => resolve();
    }).then(() => {
      this.flushing = null;
      if (this.pending.size > 0) this.flushing = Promise.resolve().then(() => this.flush());
    });
  }

  /** Resolves once everything written so far is in IndexedDB. */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }
}

export class MemoryFolder {
  private listeners: ((c: FolderChange) => void)[] = [];

  private constructor(
    readonly files: PersistedMap,
    readonly storage: PersistedMap,
  ) {}

  /** Opens (or creates) the folder named `profile`; `persist: false` keeps it in memory only. */
  static async open(profile: string, persist = true): Promise<MemoryFolder> {
    if (!persist || typeof indexedDB === 'undefined') {
      return new MemoryFolder(new PersistedMap(null, 'files', new Map()), new PersistedMap(null, 'storage', new Map()));
    }
    const db = await openDb(`diaryx-web:${profile}`);
    const [files, storage] = await Promise.all([readAll(db, 'files'), readAll(db, 'storage')]);
    return new MemoryFolder(new PersistedMap(db, 'files', files), new PersistedMap(db, 'storage', storage));
  }

  onChange(fn: (c: FolderChange) => void): void {
    this.listeners.push(fn);
  }

  private emit(change: FolderChange): void {
    for (const fn of this.listeners) fn(change);
  }

  read(path: string): Uint8Array | null {
    return this.files.data.get(normalizeWorkspacePath(path)) ?? null;
  }

  readText(path: string): string | null {
    const bytes = this.read(path);
    return bytes === null ? null : new TextDecoder().decode(bytes);
  }

  exists(path: string): boolean {
    const p = normalizeWorkspacePath(path);
    if (this.files.data.has(p)) return true;
    return [...this.files.data.keys()].some((k) => k.startsWith(p + '/'));
  }

  write(path: string, data: Uint8Array, byPlugin: boolean): string {
    const p = normalizeWorkspacePath(path);
    if (p === '') throw new Error('cannot write the workspace folder itself');
    this.files.set(p, data);
    this.emit({ kind: 'write', path: p, byPlugin });
    return p;
  }

  writeText(path: string, text: string, byPlugin: boolean): string {
    return this.write(path, new TextEncoder().encode(text), byPlugin);
  }

  delete(path: string, byPlugin: boolean): void {
    const p = normalizeWorkspacePath(path);
    if (this.files.delete(p)) this.emit({ kind: 'delete', path: p, byPlugin });
  }

  /** Files under `prefix` (recursively), sorted, workspace-relative. */
  list(prefix = ''): string[] {
    const p = normalizeWorkspacePath(prefix);
    return [...this.files.data.keys()].filter((k) => p === '' || k === p || k.startsWith(p + '/')).sort();
  }

  async settled(): Promise<void> {
    await Promise.all([this.files.settled(), this.storage.settled()]);
  }
}

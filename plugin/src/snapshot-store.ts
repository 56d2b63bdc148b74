/**
 * Local workspace snapshots in plugin storage.
 *
 * | key | value |
 * |---|---|
 * | `snapshot_index` | UTF-8 JSON array of SnapshotInfo, oldest first |
 * | `snapshot:<id>:<n>` | chunk n (0-based, at most 512 KiB) of the snapshot's zip |
 *
 * Hosts refuse values over 1 MiB (the Diaryx default quota), so a zip is
 * split into chunks of at most half that (chunked-store.ts). Writing stores the chunks first
 * and the index last; deleting drops the index entry first, then the chunks
 * (an empty value deletes a key). A snapshot whose chunks are missing or do
 * not add up to its recorded size is reported as unreadable, never restored
 * half-way.
 */
import { CHUNK_BYTES, ChunkError, readChunks, removeChunks, writeChunks } from './chunked-store';
import type { HostBridge } from './host/bridge';

export const SNAPSHOT_INDEX_KEY = 'snapshot_index';
/** Bytes per chunk of a snapshot's zip (chunked-store.ts). */
export const SNAPSHOT_CHUNK_BYTES = CHUNK_BYTES;
/** Automatic snapshots kept; the oldest ones beyond this are deleted. */
export const MAX_AUTOMATIC_SNAPSHOTS = 10;

export interface SnapshotInfo {
  id: string;
  name: string;
  /** Host time (ms since the epoch) when it was taken. */
  created_at: number;
  automatic: boolean;
  file_count: number;
  /** Zip size in bytes. */
  size: number;
  chunks: number;
}

export class SnapshotStoreError extends Error {
  override name = 'SnapshotStoreError';
}

export function snapshotChunkKey(id: string, n: number): string {
  return `snapshot:${id}:${n}`;
}

function isInfo(v: unknown): v is SnapshotInfo {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.id === 'string' &&
    typeof o.name === 'string' &&
    typeof o.created_at === 'number' &&
    typeof o.automatic === 'boolean' &&
    typeof o.file_count === 'number' &&
    typeof o.size === 'number' &&
    typeof o.chunks === 'number'
  );
}

export class SnapshotStore {
  constructor(private readonly host: HostBridge) {}

  /** Every snapshot, oldest first; an unreadable index counts as empty. */
  list(): SnapshotInfo[] {
    const bytes = this.host.storageGet(SNAPSHOT_INDEX_KEY);
    if (!bytes || bytes.length === 0) return [];
    try {
      const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      return Array.isArray(v) ? v.filter(isInfo) : [];
    } catch {
      this.host.log('warn', `[snapshots] ${SNAPSHOT_INDEX_KEY} does not parse; treating it as empty`);
      return [];
    }
  }

  get(id: string): SnapshotInfo | null {
    return this.list().find((s) => s.id === id) ?? null;
  }

  private writeIndex(list: SnapshotInfo[]): void {
    this.host.storageSet(SNAPSHOT_INDEX_KEY, new TextEncoder().encode(JSON.stringify(list)));
  }

  /** Stores a zip under a new entry; returns the ids of automatic snapshots dropped to stay within the limit. */
  save(info: Omit<SnapshotInfo, 'size' | 'chunks'>, zip: Uint8Array): { info: SnapshotInfo; dropped: string[] } {
    const written: string[] = [];
    try {
      const store = (key: string, chunk: Uint8Array) => {
        this.host.storageSet(key, chunk);
        written.push(key);
      };
      const chunks = writeChunks(store, (n) => snapshotChunkKey(info.id, n), zip, SNAPSHOT_CHUNK_BYTES);
      const full: SnapshotInfo = { ...info, size: zip.length, chunks };
      let list = [...this.list().filter((s) => s.id !== info.id), full];
      const automatic = list.filter((s) => s.automatic).sort((a, b) => a.created_at - b.created_at);
      const drop = new Set(automatic.slice(0, Math.max(0, automatic.length - MAX_AUTOMATIC_SNAPSHOTS)).map((s) => s.id));
      const dropped = list.filter((s) => drop.has(s.id));
      list = list.filter((s) => !drop.has(s.id));
      this.writeIndex(list);
      for (const s of dropped) this.deleteChunks(s);
      return { info: full, dropped: dropped.map((s) => s.id) };
    } catch (e) {
      for (const key of written) this.tryDelete(key);
      throw new SnapshotStoreError(`could not store the snapshot: ${(e as Error).message}`);
    }
  }

  /** The zip bytes of a snapshot. */
  load(info: SnapshotInfo): Uint8Array {
    let out: Uint8Array;
    try {
      out = readChunks((key) => this.host.storageGet(key), (n) => snapshotChunkKey(info.id, n), info.chunks, info.size);
    } catch (e) {
      if (e instanceof ChunkError) throw new SnapshotStoreError(`snapshot ${info.id} is incomplete (chunk ${e.chunk})`);
      throw e;
    }
    if (out.length !== info.size) throw new SnapshotStoreError(`snapshot ${info.id} is incomplete (${out.length} of ${info.size} bytes)`);
    return out;
  }

  /** Removes a snapshot; false when there was none with that id. */
  delete(id: string): boolean {
    const list = this.list();
    const info = list.find((s) => s.id === id);
    if (!info) return false;
    this.writeIndex(list.filter((s) => s.id !== id));
    this.deleteChunks(info);
    return true;
  }

  private deleteChunks(info: SnapshotInfo): void {
    removeChunks((key) => this.tryDelete(key), (n) => snapshotChunkKey(info.id, n), info.chunks);
  }

  private tryDelete(key: string): void {
    try {
      this.host.storageSet(key, new Uint8Array(0));
    } catch (e) {
      this.host.log('warn', `[snapshots] could not delete ${key}: ${(e as Error).message}`);
    }
  }
}

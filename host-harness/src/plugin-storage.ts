/**
 * Plugin storage behind host_storage_get/set: one file per key in a folder
 * that belongs to one plugin id, or an in-memory map when no folder is given.
 * Values are bytes. Writes are atomic; a value over the quota is refused.
 *
 * File names: the key with every byte outside `[a-z0-9_-]` (and `.` after the
 * first character) percent-encoded with upper-case hex, so names are valid
 * on every file system and distinct even where names are case-insensitive.
 * Names longer than 200 characters keep a readable prefix and end in a
 * SHA-256 of the key. Temp files start with `.`, which no key file does.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { atomicWrite } from './workspace-fs';

/** Default per-value quota: 1 MiB, as the Diaryx hosts use. */
export const DEFAULT_STORAGE_QUOTA_BYTES = 1024 * 1024;

/** A value larger than the quota. */
export class StorageQuotaError extends Error {
  override name = 'StorageQuotaError';
  constructor(
    readonly key: string,
    readonly size: number,
    readonly quota: number,
  ) {
    super(`Storage quota exceeded: ${size} bytes > ${quota} bytes for key ${key}`);
  }
}

const MAX_NAME = 200;

/** The file name a storage key is kept under. */
export function storageFileName(key: string): string {
  const bytes = Buffer.from(key, 'utf8');
  let name = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const plain =
      (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x5f || b === 0x2d || (b === 0x2e && i > 0);
    name += plain ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (name === '') name = '%';
  if (name.length > MAX_NAME) {
    const hash = crypto.createHash('sha256').update(bytes).digest('hex');
    name = `${name.slice(0, MAX_NAME - 66).replace(/%[0-9A-F]?$/, '')}~${hash}`;
  }
  return name;
}

export interface PluginStorageOptions {
  /** Folder of this plugin's values; omitted = in memory only. */
  dir?: string;
  /** Largest accepted value in bytes (default 1 MiB). */
  quotaBytes?: number;
}

/** Byte values by key for one plugin. */
export class PluginStorage {
  readonly dir: string | undefined;
  readonly quotaBytes: number;
  private readonly memory = new Map<string, Uint8Array>();

  constructor(options: PluginStorageOptions = {}) {
    this.dir = options.dir === undefined ? undefined : path.resolve(options.dir);
    this.quotaBytes = options.quotaBytes ?? DEFAULT_STORAGE_QUOTA_BYTES;
    if (this.dir !== undefined) fs.mkdirSync(this.dir, { recursive: true });
  }

  /** The stored bytes, or null when the key is absent. */
  get(key: string): Uint8Array | null {
    if (this.dir === undefined) return this.memory.get(key) ?? null;
    try {
      return fs.readFileSync(path.join(this.dir, storageFileName(key)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Stores bytes; empty bytes delete the key. Throws StorageQuotaError over the quota. */
  set(key: string, data: Uint8Array): void {
    if (data.byteLength > this.quotaBytes) throw new StorageQuotaError(key, data.byteLength, this.quotaBytes);
    if (this.dir === undefined) {
      if (data.byteLength === 0) this.memory.delete(key);
      else this.memory.set(key, new Uint8Array(data));
      return;
    }
    const file = path.join(this.dir, storageFileName(key));
    if (data.byteLength === 0) {
      try {
        fs.unlinkSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      return;
    }
    atomicWrite(file, data);
  }
}

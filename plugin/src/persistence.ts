/**
 * Plugin storage layout (host_storage_get/set, values are bytes):
 *
 * | key | value |
 * |---|---|
 * | `sync.extism.config` | config JSON (config.ts) |
 * | `workspace_crdt` | `Y.encodeStateAsUpdate(workspace doc)` (v1) |
 * | `body:<key>` | `Y.encodeStateAsUpdate(body doc)` for every persisted body |
 * | `body_doc_manifest` | JSON array of the persisted body keys, sorted |
 * | `history:manifest`, `history:g<gen>.<n>` | the update history of all docs (core/history-codec.ts), in shared chunks |
 * | `history_retention` | JSON `{keep_all_days, max_bytes}` (commands/retention.ts) |
 * | `snapshot_index`, `snapshot:<id>:<n>` | local workspace snapshots, zips in chunks (snapshot-store.ts) |
 * | `device_id` | this device's id (hex), named in history entries |
 * | `<key>.corrupt` | bytes of a stored value that could not be decoded, kept aside |
 * | `<key>:part:<gen>.<n>` | parts of a doc state over 512 KiB, named by a header under `<key>` (large-values.ts) |
 *
 * The first four are the Rust plugin's keys and encodings (a doc state over
 * 512 KiB, beyond what hosts store under one key, is kept in parts). A value that does
 * not decode is never overwritten silently: it is copied to `<key>.corrupt`
 * first, and the plugin starts that document fresh with a warning.
 */
import type { HostBridge } from './host/bridge';

export const WORKSPACE_KEY = 'workspace_crdt';
export const BODY_MANIFEST_KEY = 'body_doc_manifest';
export const CORRUPT_SUFFIX = '.corrupt';

export function bodyStorageKey(key: string): string {
  return `body:${key}`;
}

const utf8 = new TextEncoder();

export function readBodyManifest(host: HostBridge): string[] {
  const bytes = host.storageGet(BODY_MANIFEST_KEY);
  if (!bytes) return [];
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

export function writeBodyManifest(host: HostBridge, keys: Iterable<string>): void {
  const sorted = [...new Set(keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  host.storageSet(BODY_MANIFEST_KEY, utf8.encode(JSON.stringify(sorted)));
}

/**
 * Keeps undecodable bytes under `<key>.corrupt` so they are never lost. Bytes
 * kept there earlier (a previous, different corruption) move first to the
 * first free `<key>.corrupt.<n>` (n >= 2).
 */
export function setAsideCorrupt(host: HostBridge, key: string, bytes: Uint8Array): void {
  const target = key + CORRUPT_SUFFIX;
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  const earlier = host.storageGet(target);
  if (earlier && earlier.length > 0 && !same(earlier, bytes)) {
    let n = 2;
    for (;;) {
      const kept = host.storageGet(`${target}.${n}`);
      if (!kept || kept.length === 0) break;
      if (same(kept, earlier)) break;
      n++;
    }
    host.storageSet(`${target}.${n}`, earlier);
  }
  host.storageSet(target, bytes);
}

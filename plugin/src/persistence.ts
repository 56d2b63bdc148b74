/**
 * Plugin storage layout: every key the plugin stores under
 * (host_storage_get/set; values are bytes) is in STORAGE_KEYS below, the one
 * table of them (README "Plugin storage" links here; a test checks that every
 * key written matches an entry).
 *
 * The first four are the Rust plugin's keys and encodings (a doc state over
 * 512 KiB, beyond what hosts store under one key, is kept in parts). A value that does
 * not decode is never overwritten silently: it is copied to `<key>.corrupt`
 * first, and the plugin starts that document fresh with a warning.
 */
import type { HostBridge } from './host/bridge';

export interface StorageKey {
  /** The key, `<...>` standing for a variable part. */
  key: string;
  /** What is stored under it. */
  value: string;
  /** The module that reads and writes it. */
  module: string;
}

/** Every plugin storage key. */
export const STORAGE_KEYS: readonly StorageKey[] = [
  { key: 'sync.extism.config', value: 'config JSON `{server_url, auth_token, workspace_id}`', module: 'config.ts' },
  { key: 'workspace_crdt', value: '`Y.encodeStateAsUpdate(workspace doc)` (v1)', module: 'doc-persistence.ts' },
  { key: 'body:<key>', value: '`Y.encodeStateAsUpdate(body doc)` for every persisted body', module: 'doc-persistence.ts' },
  { key: 'body_doc_manifest', value: 'JSON array of the persisted body keys, sorted', module: 'persistence.ts' },
  { key: 'history:manifest', value: 'the index of the update history chunks', module: 'core/history-codec.ts' },
  { key: 'history:g<gen>.<n>', value: 'the update history of all docs, in shared chunks of at most 512 KiB', module: 'core/history-codec.ts' },
  { key: 'history:<key>:g<gen>.<n>', value: 'history chunks in the earlier per-doc layout: read, then removed', module: 'core/history-codec.ts' },
  { key: 'history_retention', value: 'JSON `{keep_all_days, max_bytes}`', module: 'commands/retention.ts' },
  { key: 'snapshot_index', value: 'UTF-8 JSON array of the local snapshots, oldest first', module: 'snapshot-store.ts' },
  { key: 'snapshot:<id>:<n>', value: 'a local workspace snapshot, a zip in chunks', module: 'snapshot-store.ts' },
  { key: 'device_id', value: "this device's random id (hex), named in history entries", module: 'doc-persistence.ts' },
  { key: 'e2ee:<id>', value: 'JSON `{v, epoch, keys, device, run}`: the root keys of an unlocked encrypted workspace, this device\'s id and run; `{v, locked}` once locked', module: 'e2ee/key-store.ts' },
  { key: 'e2ee-doc:<id>', value: 'JSON `{v, cursor, head, snapId, snapSeq, writers, serverSV, dirty}` of one encrypted doc, `<id>` = `<workspace id>/<doc name>`; written after the doc itself', module: 'e2ee/doc-state.ts' },
  { key: 'e2ee-changes:<id>', value: 'JSON `{v, changeNo}`: the workspace change number an encrypted workspace synced up to', module: 'e2ee/doc-state.ts' },
  { key: 'concurrent_edits', value: 'JSON array of the last 200 concurrent edits, marked in History', module: 'concurrent-edits-log.ts' },
  { key: '<key>.corrupt', value: 'bytes of a stored value that did not decode, set aside instead of overwritten', module: 'persistence.ts' },
  { key: '<key>.corrupt.<n>', value: 'an earlier set-aside value, when another one came', module: 'persistence.ts' },
  { key: '<key>:part:<gen>.<n>', value: 'parts of a doc state over 512 KiB, named by a small header under `<key>`', module: 'large-values.ts' },
];

/** The entry of STORAGE_KEYS a concrete key falls under, or null (`body:a.md:part:0.1` is a part, not a body). */
export function storageKeyEntry(key: string): StorageKey | null {
  const wrappersFirst = [...STORAGE_KEYS].sort((a, b) => Number(b.key.startsWith('<key>')) - Number(a.key.startsWith('<key>')));
  for (const entry of wrappersFirst) {
    const pattern = entry.key
      .split(/(<[a-z]+>)/)
      .map((part) => (part === '<key>' || part === '<id>' ? '.+' : part === '<gen>' || part === '<n>' ? '\\d+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    if (new RegExp(`^${pattern}$`).test(key)) return entry;
  }
  return null;
}

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

/**
 * Concurrent edits the user is told about: a received body update typed at
 * the same place as text this device had (core/concurrent-edits.ts). The text
 * stays merged, as the CRDT merged it; the plugin
 *
 * - emits `{"type":"ConcurrentEdit","path","devices":[name…],"update_id",
 *   "before_update_id","message"}` (update_id: the history entry of the
 *   received change; before_update_id: the last entry before it, i.e. this
 *   device's version just before the merge, for GetFileVersion or
 *   RestoreFileVersion);
 * - keeps the last MAX_RECORDS of them in plugin storage under
 *   `concurrent_edits` (JSON array), so the history commands mark those
 *   entries (`concurrent: {devices, before_update_id}`) after a restart too.
 */
import { deviceRegistry } from './devices';
import type { ConcurrentInsert } from './core/concurrent-edits';
import type { HostBridge } from './host/bridge';
import type { PluginState } from './state';

/** The host functions the records are kept through. */
type RecordHost = Pick<HostBridge, 'storageGet' | 'storageSet' | 'log'>;

export const CONCURRENT_EDITS_KEY = 'concurrent_edits';
const MAX_RECORDS = 200;

export interface ConcurrentEditRecord {
  path: string;
  update_id: number;
  before_update_id: number;
  timestamp: number;
  /** Device names (or short ids) of the edits that met, this device's included. */
  devices: string[];
}

function isRecord(v: unknown): v is ConcurrentEditRecord {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.path === 'string' &&
    typeof r.update_id === 'number' &&
    typeof r.before_update_id === 'number' &&
    typeof r.timestamp === 'number' &&
    Array.isArray(r.devices) &&
    r.devices.every((d) => typeof d === 'string')
  );
}

/** The stored records, oldest first ([] when none or unreadable). */
export function loadConcurrentEdits(host: Pick<HostBridge, 'storageGet'>): ConcurrentEditRecord[] {
  try {
    const bytes = host.storageGet(CONCURRENT_EDITS_KEY);
    if (!bytes || bytes.length === 0) return [];
    const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return Array.isArray(v) ? v.filter(isRecord) : [];
  } catch {
    return [];
  }
}

/** A name for a Yjs client id: its device's name, a short device id, or `this device`. */
function deviceLabel(state: PluginState, client: number, ownClient: number | null): string {
  const info = deviceRegistry(state).describe(client);
  if (info?.device_id === state.deviceId || (info === null && client === ownClient)) return state.deviceName ?? `this device (${state.deviceId.slice(0, 8)})`;
  if (info?.device_name) return info.device_name;
  if (info?.device_id) return `device ${info.device_id.slice(0, 8)}`;
  return 'another device';
}

/** Tells the host and keeps the record (a failed storage write is reported, the event still goes out). */
export function reportConcurrentEdit(state: PluginState, host: RecordHost, path: string, found: ConcurrentInsert, beforeId: number, updateId: number): void {
  const own = state.bodies.get(path)?.clientID ?? null;
  const devices = [...new Set([...found.local, ...found.remote].map((c) => deviceLabel(state, c, own)))];
  const record: ConcurrentEditRecord = { path, update_id: updateId, before_update_id: beforeId, timestamp: state.now(), devices };
  const message = `${path}: edited on ${devices.join(' and ')} at the same time; both texts were kept, merged. This device's version before it is in History.`;
  host.log('warn', `[sync] ${message}`);
  state.events.concurrentEdit({ path, devices, update_id: updateId, before_update_id: beforeId, message });
  const all = [...loadConcurrentEdits(host), record].slice(-MAX_RECORDS);
  try {
    host.storageSet(CONCURRENT_EDITS_KEY, new TextEncoder().encode(JSON.stringify(all)));
  } catch (e) {
    state.reports.reportError(`keeping the concurrent edit of ${path} in History failed: ${(e as Error).message}`);
  }
}

/** History entries with `concurrent: {devices, before_update_id}` where a stored record names them. */
export function markConcurrent<T extends { update_id: number; doc_name: string }>(host: Pick<HostBridge, 'storageGet'>, entries: T[]): (T & { concurrent?: { devices: string[]; before_update_id: number } })[] {
  const records = loadConcurrentEdits(host);
  if (records.length === 0) return entries;
  const byId = new Map(records.map((r) => [`${r.path}\u0000${r.update_id}`, r]));
  return entries.map((e) => {
    const r = byId.get(`${e.doc_name}\u0000${e.update_id}`);
    return r ? { ...e, concurrent: { devices: r.devices, before_update_id: r.before_update_id } } : e;
  });
}

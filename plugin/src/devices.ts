/**
 * Which device made a change, for history entries received from others.
 *
 * History records the device only for local changes; a received update
 * carries nothing but Yjs client ids. So each device names the client ids it
 * edits with in the workspace doc, in a root Y.Map `devices`:
 * `<client id>` (decimal) -> device id, and `device:<device id>` -> JSON
 * `{"device_name"}`. Every Y.Doc instance has its own random client id (ids
 * are never shared between docs: a rename can merge one doc's state into
 * another's), so an entry is added for each doc a session edits, with the
 * first local change (about 40 bytes). Other Diaryx clients and the server
 * read only the `files` map and ignore this one.
 *
 * `attribute` names the device of entries without one: the registered client
 * with the most structs in the entry's update.
 */
import * as Y from 'yjs';
import { ORIGIN_LOCAL } from './core/origin';
import type { HistoryEntry } from './core/history';
import type { PluginState } from './state';

export const DEVICES_MAP_NAME = 'devices';

const registries = new WeakMap<PluginState, DeviceRegistry>();

/** The registry of a plugin state (created on first use, at init). */
export function deviceRegistry(state: PluginState): DeviceRegistry {
  let r = registries.get(state);
  if (!r) {
    r = new DeviceRegistry(state);
    registries.set(state, r);
  }
  return r;
}

interface DeviceInfo {
  device_id: string | null;
  device_name: string | null;
}

export class DeviceRegistry {
  private readonly pending = new Set<number>();
  private readonly map: Y.Map<unknown>;

  constructor(private readonly state: PluginState) {
    this.map = state.workspace.doc.getMap(DEVICES_MAP_NAME);
    state.workspace.onLocalUpdate(() => this.note(state.workspace.doc.clientID));
    state.bodies.onLocalUpdate((key) => {
      const doc = state.bodies.get(key);
      if (doc) this.note(doc.clientID);
    });
  }

  private note(clientId: number): void {
    if (!this.map.has(String(clientId))) this.pending.add(clientId);
  }

  /** Writes the entries of client ids that made local changes (call between transactions). */
  flush(): void {
    if (this.pending.size === 0) return;
    const ids = [...this.pending].filter((id) => !this.map.has(String(id)));
    this.pending.clear();
    if (ids.length === 0) return;
    const { deviceId, deviceName } = this.state;
    const nameKey = `device:${deviceId}`;
    const nameValue = JSON.stringify({ device_name: deviceName });
    this.state.workspace.doc.transact(() => {
      for (const id of ids) this.map.set(String(id), deviceId);
      if (this.map.get(nameKey) !== nameValue) this.map.set(nameKey, nameValue);
    }, ORIGIN_LOCAL);
    this.state.markWorkspaceDirty();
  }

  private lookup(clientId: number): DeviceInfo | null {
    const deviceId = this.map.get(String(clientId));
    if (typeof deviceId !== 'string') return null;
    let name: string | null = null;
    const raw = this.map.get(`device:${deviceId}`);
    if (typeof raw === 'string') {
      try {
        const v = JSON.parse(raw) as { device_name?: unknown };
        if (typeof v.device_name === 'string') name = v.device_name;
      } catch {
        // an unreadable name: the device id alone
      }
    }
    return { device_id: deviceId, device_name: name };
  }

  /** Fills `device_id` / `device_name` of entries that have none, from their updates' client ids. */
  attribute<T extends HistoryEntry & { doc_name?: string }>(entries: T[], docName: (e: T) => string): T[] {
    const bytes = new Map<string, Map<number, Uint8Array>>();
    const updateOf = (doc: string, id: number): Uint8Array | undefined => {
      let m = bytes.get(doc);
      if (!m) {
        m = new Map(this.state.history.updates(doc).map((u) => [u.update_id, u.update]));
        bytes.set(doc, m);
      }
      return m.get(id);
    };
    return entries.map((e) => {
      if (e.device_id !== null || e.device_name !== null || e.origin === 'local') return e;
      const update = updateOf(docName(e), e.update_id);
      if (!update) return e;
      let counts: Map<number, number>;
      try {
        counts = new Map();
        for (const s of Y.decodeUpdate(update).structs) counts.set(s.id.client, (counts.get(s.id.client) ?? 0) + 1);
      } catch {
        return e;
      }
      const ranked = [...counts].sort((a, b) => b[1] - a[1]);
      for (const [client] of ranked) {
        const info = this.lookup(client);
        if (info) return { ...e, device_id: info.device_id, device_name: info.device_name };
      }
      return e;
    });
  }
}

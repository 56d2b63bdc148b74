/**
 * Which device made a change, for history entries received from others.
 *
 * History records the device only for local changes; a received update
 * carries nothing but Yjs client ids. So each device names the client ids it
 * edits with in the workspace doc, in a root Y.Map `devices`:
 * `<client id>` (decimal) -> device id, `block:<n>` -> device id for the
 * body docs' client ids of block n (see core/client-ids.ts), and
 * `device:<device id>` -> JSON `{"device_name"}`. The workspace doc's random
 * client id gets an entry of its own; body docs take their ids from blocks of
 * 256, so a session that edits 10,000 bodies adds about 40 entries (about 40
 * bytes each), not 10,000. Other Diaryx clients and the server read only the
 * `files` map and ignore this one.
 *
 * `attribute` names the device of entries without one: the registered client
 * with the most structs in the entry's update.
 */
import * as Y from 'yjs';
import { DEVICES_MAP_NAME } from '../../common/src/workspace/schema';
import { clientIdBlock } from './core/client-ids';
import { ORIGIN_LOCAL } from './core/origin';
import type { HistoryEntry } from './core/history';
import type { PluginState } from './state';

const registries = new WeakMap<PluginState, DeviceRegistry>();

/**
 * Starts the device registry of a new plugin state (at init, before any
 * change): from then on the client ids of local changes are noted, and
 * written by the next flush.
 */
export function startDeviceRegistry(state: PluginState): void {
  deviceRegistry(state);
}

/** The registry of a plugin state (created on first use: startDeviceRegistry at init). */
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

function blockKey(clientId: number): string {
  return `block:${clientIdBlock(clientId)}`;
}

export class DeviceRegistry {
  /** Entry keys (`<client id>` or `block:<n>`) to write at the next flush. */
  private readonly pending = new Set<string>();
  private readonly map: Y.Map<unknown>;

  constructor(private readonly state: PluginState) {
    this.map = state.workspace.doc.getMap(DEVICES_MAP_NAME);
    state.workspace.onLocalUpdate(() => this.note(String(state.workspace.doc.clientID)));
    state.bodies.onLocalUpdate((key) => {
      const doc = state.bodies.get(key);
      if (doc) this.note(blockKey(doc.clientID));
    });
  }

  private note(entryKey: string): void {
    if (!this.map.has(entryKey)) this.pending.add(entryKey);
  }

  /** Writes the entries of client ids that made local changes (call between transactions). */
  flush(): void {
    if (this.pending.size === 0) return;
    const keys = [...this.pending].filter((key) => !this.map.has(key));
    this.pending.clear();
    if (keys.length === 0) return;
    const { deviceId, deviceName } = this.state;
    const nameKey = `device:${deviceId}`;
    const nameValue = JSON.stringify({ device_name: deviceName });
    this.state.workspace.doc.transact(() => {
      for (const key of keys) this.map.set(key, deviceId);
      if (this.map.get(nameKey) !== nameValue) this.map.set(nameKey, nameValue);
    }, ORIGIN_LOCAL);
    this.state.persistence.markWorkspaceDirty();
  }

  /** The device that registered a client id, or null. */
  describe(clientId: number): DeviceInfo | null {
    // An id of its own first: the block of another device's body docs may hold it by chance.
    const own = this.map.get(String(clientId));
    const deviceId = own !== undefined ? own : this.map.get(blockKey(clientId));
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
        const info = this.describe(client);
        if (info) return { ...e, device_id: info.device_id, device_name: info.device_name };
      }
      return e;
    });
  }
}

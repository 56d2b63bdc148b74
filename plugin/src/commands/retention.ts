/**
 * History retention: how long every version is kept before older ones are
 * thinned to one per day, and the byte budget of the whole history
 * (core/history.ts). Stored under the plugin storage key `history_retention`
 * as JSON `{"keep_all_days": n, "max_bytes": n}`, applied at `init` and by
 * `SetHistoryRetention`; the config keys stay those of the Rust plugin.
 */
import type { HostBridge } from '../host/bridge';
import type { SyncRuntime } from '../runtime';
import type { CommandTable } from './table';
import { CommandError, optionalNumber } from './params';

export const RETENTION_KEY = 'history_retention';

export interface Retention {
  keep_all_days: number;
  max_bytes: number;
}

/** The stored policy, or null when none was set (the defaults apply). */
export function loadRetention(host: HostBridge): Retention | null {
  try {
    const bytes = host.storageGet(RETENTION_KEY);
    if (!bytes || bytes.length === 0) return null;
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Partial<Retention>;
    if (typeof v.keep_all_days !== 'number' || typeof v.max_bytes !== 'number') return null;
    return { keep_all_days: v.keep_all_days, max_bytes: v.max_bytes };
  } catch {
    return null;
  }
}

/** Applies the stored policy to the runtime's history (at init). */
export function applyStoredRetention(rt: SyncRuntime): void {
  const r = loadRetention(rt.host);
  if (r) rt.state.history.setRetention(r.keep_all_days, r.max_bytes);
}

function current(rt: SyncRuntime) {
  const h = rt.state.history;
  return {
    keep_all_days: h.keepAllDays,
    max_bytes: h.maxBytes,
    history_bytes: h.byteSize(),
    // Versions the byte budget folded away since the plugin started, and whose.
    dropped_versions: h.dropped.entries,
    dropped_from: [...h.dropped.docs].sort(),
  };
}

export const RETENTION_COMMANDS: CommandTable = {
  GetHistoryRetention: (rt) => current(rt),
  SetHistoryRetention: (rt, p) => {
    const days = optionalNumber(p, 'keep_all_days') ?? rt.state.history.keepAllDays;
    const bytes = optionalNumber(p, 'max_bytes') ?? rt.state.history.maxBytes;
    if (days < 0 || bytes <= 0) throw new CommandError('keep_all_days must be >= 0 and max_bytes > 0');
    rt.state.history.setRetention(days, bytes);
    const h = rt.state.history;
    const stored: Retention = { keep_all_days: h.keepAllDays, max_bytes: h.maxBytes };
    try {
      rt.host.storageSet(RETENTION_KEY, new TextEncoder().encode(JSON.stringify(stored)));
    } catch (e) {
      throw new CommandError(`Could not store the retention policy: ${(e as Error).message}`);
    }
    rt.save(true);
    return current(rt);
  },
};

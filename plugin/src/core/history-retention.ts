/**
 * Retention by age: entries older than the keep-all window are thinned to
 * one per UTC day per doc, the last entry of a day absorbing the day's earlier
 * updates (Y.mergeUpdates) and their changed files, so the state at every kept
 * id is unchanged.
 */
import * as Y from 'yjs';
import { compareKeys } from '../../../common/src/workspace/paths';
import type { DocLog } from './history-types';

export const DAY_MS = 86_400_000;

function dayOf(ts: number): number {
  return Math.floor(ts / DAY_MS);
}

/** Thins the entries of `d` older than `cutoff` (ms); returns the change in update bytes. */
export function thinLog(d: DocLog, cutoff: number): number {
  let delta = 0;
  while (d.thinned < d.entries.length && d.entries[d.thinned].timestamp < cutoff) {
    const i = d.thinned;
    const cur = d.entries[i];
    const prev = i > 0 ? d.entries[i - 1] : null;
    if (prev !== null && dayOf(prev.timestamp) === dayOf(cur.timestamp)) {
      const merged = Y.mergeUpdates([prev.update, cur.update]);
      delta += merged.length - prev.update.length - cur.update.length;
      d.entries[i - 1] = {
        ...cur,
        files_changed: [...new Set([...prev.files_changed, ...cur.files_changed])].sort(compareKeys),
        update: merged,
      };
      d.entries.splice(i, 1);
    } else {
      d.thinned++;
    }
  }
  return delta;
}

/**
 * The writer table of one encrypted doc: per (device id, run) the highest
 * counter applied, the seq it came at, and the counters a gap skipped. It
 * tells a replayed envelope (counter not above the highest and not skipped)
 * from a gap (a counter skipped, or a new run not starting at 1: applied,
 * reported) and from a late envelope that fills a gap (stored after a higher
 * counter of its run, as when the server refused one append and took the
 * next: applied, not a replay); and it is what a snapshot must cover
 * (integrity, README "End-to-end encryption").
 */
import { toHex } from '../../../common/src/e2ee/bytes';

export interface WriterEntry {
  /** Device id, lowercase hex of 16 bytes. */
  device: string;
  run: number;
  ctr: number;
  seq: number;
  /** Counters below `ctr` a gap skipped and no envelope filled yet (kept locally, not in snapshots). */
  missing?: number[];
}

/** What to do with an update envelope of a writer. */
export type WriterVerdict = 'apply' | 'replay' | 'gap' | 'fill';

/** Skipped counters remembered per writer run; beyond this a late envelope reads as a replay (its update is applied anyway). */
const MAX_MISSING = 1024;

function slot(device: string, run: number): string {
  return `${device}/${run}`;
}

export class WriterTable {
  private readonly entries = new Map<string, WriterEntry>();

  constructor(entries: Iterable<WriterEntry> = []) {
    for (const e of entries) this.raise(e);
  }

  /** The verdict for (device, run, ctr), without recording it. */
  check(deviceId: Uint8Array | string, run: number, ctr: number): WriterVerdict {
    const device = typeof deviceId === 'string' ? deviceId : toHex(deviceId);
    const known = this.entries.get(slot(device, run));
    const highest = known?.ctr ?? 0;
    if (ctr <= highest) return known?.missing?.includes(ctr) ? 'fill' : 'replay';
    return ctr === highest + 1 ? 'apply' : 'gap';
  }

  /** Records an applied (or acknowledged) envelope: the entry only ever rises. */
  record(deviceId: Uint8Array | string, run: number, ctr: number, seq: number): void {
    const device = typeof deviceId === 'string' ? deviceId : toHex(deviceId);
    const known = this.entries.get(slot(device, run));
    const highest = known?.ctr ?? 0;
    if (ctr <= highest) {
      // A late envelope filling a gap: the entry stays, the counter is no longer missing.
      if (known?.missing) {
        known.missing = known.missing.filter((c) => c !== ctr);
        if (known.missing.length === 0) delete known.missing;
      }
      return;
    }
    const missing = [...(known?.missing ?? [])];
    for (let c = highest + 1; c < ctr && missing.length < MAX_MISSING; c++) missing.push(c);
    this.entries.set(slot(device, run), { device, run, ctr, seq, ...(missing.length > 0 ? { missing } : {}) });
  }

  /** Takes an entry (from a snapshot, or storage) where it is above what is held. */
  raise(entry: WriterEntry): void {
    const key = slot(entry.device, entry.run);
    const known = this.entries.get(key);
    if (!known || entry.ctr > known.ctr) this.entries.set(key, { ...entry, ...(entry.missing ? { missing: [...entry.missing] } : {}) });
  }

  get(deviceId: Uint8Array | string, run: number): WriterEntry | undefined {
    const device = typeof deviceId === 'string' ? deviceId : toHex(deviceId);
    return this.entries.get(slot(device, run));
  }

  /** Every entry, ordered by device then run (stable bytes for snapshots and storage). */
  list(): WriterEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : a.run - b.run));
  }

  /**
   * The entries held with seq <= `coversSeq` that `snapshot` does not cover
   * (its entry for the same writer run has a lower counter, or none): a
   * snapshot that drops them rolled the doc back.
   */
  uncoveredBy(snapshot: WriterTable, coversSeq: number): WriterEntry[] {
    return this.list().filter((e) => e.seq <= coversSeq && (snapshot.get(e.device, e.run)?.ctr ?? 0) < e.ctr);
  }

  get size(): number {
    return this.entries.size;
  }
}

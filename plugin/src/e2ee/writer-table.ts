/**
 * The writer table of one encrypted doc: per (device id, run) the highest
 * counter applied and the seq it came at. It tells a replayed envelope
 * (counter not above the highest: ignored) from a gap (a counter skipped, or
 * a new run not starting at 1: applied, reported), and it is what a snapshot
 * must cover (integrity, README "End-to-end encryption").
 */
import { toHex } from '../../../common/src/e2ee/bytes';

export interface WriterEntry {
  /** Device id, lowercase hex of 16 bytes. */
  device: string;
  run: number;
  ctr: number;
  seq: number;
}

/** What to do with an update envelope of a writer. */
export type WriterVerdict = 'apply' | 'replay' | 'gap';

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
    if (ctr <= highest) return 'replay';
    return ctr === highest + 1 ? 'apply' : 'gap';
  }

  /** Records an applied (or acknowledged) envelope: the entry only ever rises. */
  record(deviceId: Uint8Array | string, run: number, ctr: number, seq: number): void {
    this.raise({ device: typeof deviceId === 'string' ? deviceId : toHex(deviceId), run, ctr, seq });
  }

  /** Takes an entry (from a snapshot) where it is above what is held. */
  raise(entry: WriterEntry): void {
    const key = slot(entry.device, entry.run);
    const known = this.entries.get(key);
    if (!known || entry.ctr > known.ctr) this.entries.set(key, { ...entry });
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

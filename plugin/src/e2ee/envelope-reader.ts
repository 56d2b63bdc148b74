/**
 * Reading what the server sent for one encrypted doc (a Batch or a Relay)
 * into Yjs updates to apply, with the integrity checks of the design
 * (README "End-to-end encryption"):
 * - an envelope that does not open (any changed byte, moved to another doc,
 *   workspace or kind) is `Envelope rejected: <doc tag>`; nothing of it is
 *   applied and the cursor moves past it;
 * - an epoch this device holds no key of is `Missing key for epoch <e>`: the
 *   envelope is not applied and the cursor stops before it (it is read again
 *   after the next unlock);
 * - the writer table reports replays (`Replayed envelope ignored: <doc tag>`,
 *   silent for this device's own envelopes coming back; the writer table
 *   ignores them, their update is applied again, which changes nothing for
 *   a doc that holds it and restores it to one made again here) and
 *   gaps (`Missing envelopes from <device id hex>`, applied all the same); a
 *   late envelope filling a gap is neither;
 * - a snapshot must cover every writer entry held up to its covers seq, and
 *   head and snapshot seq never drop: else `Rollback detected: <doc tag>`.
 * The doc's state (cursor, writers, head, snapshot) moves here; the caller
 * applies the updates, then stores the doc, then the state.
 */
import { toHex } from '../../../common/src/e2ee/bytes';
import { EnvelopeRejectedError, MissingKeyError, openEnvelope, type OpenedEnvelope } from '../../../common/src/e2ee/envelope';
import { equalBytes } from '../../../common/src/e2ee/bytes';
import type { DocState } from './doc-state';
import type { DeviceKeys } from './key-store';
import { decodeSnapshotPayload } from './snapshot-payload';
import { WriterTable } from './writer-table';

export interface ReadOutcome {
  /** Yjs updates to apply, in order. */
  updates: Uint8Array[];
  /** Error messages to report (one event each). */
  errors: string[];
  /** The server showed an older state than this device saw: the device sends its full state again. */
  rollback: boolean;
  /** An envelope waits for a key this device lacks: the cursor stopped before it. */
  waiting: boolean;
}

export function emptyOutcome(): ReadOutcome {
  return { updates: [], errors: [], rollback: false, waiting: false };
}

export class EnvelopeReader {
  constructor(
    private readonly keys: () => DeviceKeys,
    private readonly warn: (message: string) => void,
  ) {}

  private open(tag: string, env: Uint8Array, out: ReadOutcome): OpenedEnvelope | 'rejected' | 'missing' {
    const keys = this.keys();
    try {
      return openEnvelope(env, { workspaceId: keys.workspaceId, docTag: tag }, (epoch) => keys.docKey(epoch, tag));
    } catch (e) {
      if (e instanceof EnvelopeRejectedError) {
        this.warn(`[e2ee] ${e.message} (${e.reason})`);
        out.errors.push(e.message);
        return 'rejected';
      }
      if (e instanceof MissingKeyError) {
        out.errors.push(e.message);
        return 'missing';
      }
      throw e;
    }
  }

  /** The head the server reports: lower than one seen before is a rollback; the doc follows the server's numbering from there. */
  checkHead(tag: string, state: DocState, head: number, out: ReadOutcome): void {
    if (head < state.head) {
      this.rollback(tag, out, `head ${head} below ${state.head}`);
      state.head = head;
      state.cursor = Math.min(state.cursor, head);
    }
    state.head = Math.max(state.head, head);
  }

  /** A snapshot of a Batch: checked, its update and writer entries taken; the cursor moves to its seq. */
  snapshot(tag: string, state: DocState, snapSeq: number, env: Uint8Array, out: ReadOutcome): void {
    const opened = this.open(tag, env, out);
    if (opened === 'missing') {
      out.waiting = true;
      return;
    }
    const fields = opened === 'rejected' ? null : opened.header.snapshot;
    if (opened !== 'rejected' && (opened.header.kind !== 'snapshot' || !fields || fields.coversSeq !== snapSeq)) {
      out.errors.push(`Envelope rejected: ${tag}`);
      this.warn(`[e2ee] snapshot of ${tag} is not a snapshot covering seq ${snapSeq}`);
    } else if (opened !== 'rejected' && fields) {
      let payload;
      try {
        payload = decodeSnapshotPayload(opened.payload);
      } catch (e) {
        out.errors.push(`Envelope rejected: ${tag}`);
        this.warn(`[e2ee] snapshot of ${tag}: ${(e as Error).message}`);
        payload = null;
      }
      if (payload) {
        const theirs = new WriterTable(payload.writers);
        const uncovered = state.writers.uncoveredBy(theirs, snapSeq);
        const sameSeqOtherId = state.snapId !== null && snapSeq === state.snapSeq && !equalBytes(state.snapId, fields.snapId);
        if (snapSeq < state.snapSeq || uncovered.length > 0 || sameSeqOtherId) {
          this.rollback(tag, out, `snapshot at ${snapSeq} (held ${state.snapSeq}, ${uncovered.length} writer entries not covered)`);
        }
        for (const w of payload.writers) state.writers.raise(w);
        out.updates.push(payload.update);
        state.snapId = fields.snapId;
      }
    }
    state.snapSeq = Math.max(state.snapSeq, snapSeq);
    if (snapSeq > state.cursor) state.cursor = snapSeq;
  }

  /**
   * Envelopes at their seqs (a Batch tail or one Relay), in order: those at
   * or below the cursor are skipped. Stops at one whose key is missing.
   */
  envelopes(tag: string, state: DocState, items: readonly { seq: number; env: Uint8Array }[], out: ReadOutcome): void {
    const own = toHex(this.keys().deviceId);
    for (const { seq, env } of items) {
      if (seq <= state.cursor) continue;
      const opened = this.open(tag, env, out);
      if (opened === 'missing') {
        out.waiting = true;
        return;
      }
      state.cursor = seq;
      state.head = Math.max(state.head, seq);
      if (opened === 'rejected') continue;
      const h = opened.header;
      if (h.kind !== 'update') {
        out.errors.push(`Envelope rejected: ${tag}`);
        continue;
      }
      const device = toHex(h.deviceId);
      const verdict = state.writers.check(device, h.run, h.ctr);
      if (verdict === 'replay') {
        if (device !== own) {
          out.errors.push(`Replayed envelope ignored: ${tag}`);
          this.warn(`[e2ee] replay of ${device} run ${h.run} counter ${h.ctr} at seq ${seq} in ${tag}`);
        }
        // Its update is applied all the same: an authentic update held already changes nothing (Yjs
        // drops it), one that only reads as a replay (stored late, past a snapshot that took its
        // run's higher counter) is not lost, and this device's own, coming back to a doc made again
        // here (its body moved away by a rename, then the path back), is held again.
        out.updates.push(opened.payload);
        continue;
      }
      if (verdict === 'gap') {
        out.errors.push(`Missing envelopes from ${device}`);
        this.warn(`[e2ee] gap before ${device} run ${h.run} counter ${h.ctr} at seq ${seq} in ${tag}`);
      }
      state.writers.record(device, h.run, h.ctr, seq);
      out.updates.push(opened.payload);
    }
  }

  private rollback(tag: string, out: ReadOutcome, detail: string): void {
    this.warn(`[e2ee] rollback of ${tag}: ${detail}`);
    if (!out.rollback) out.errors.push(`Rollback detected: ${tag}`);
    out.rollback = true;
  }
}

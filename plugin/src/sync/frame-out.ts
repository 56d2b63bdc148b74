/**
 * Outgoing frames of a session. A doc id longer than 255 bytes is never
 * truncated (the original truncates, so long paths collide): its frame is
 * dropped and an `error` event `Document id longer than 255 bytes: <first 64
 * characters>...` is emitted instead, once per id until `reset()`.
 */
import type { SessionAction } from '../../../common/src/wire/envelope';
import { DocIdTooLongError, encodeFrame } from '../../../common/src/wire/frame';

/** Characters of an over-long doc id quoted in its error event. */
const LONG_ID_PREFIX_CHARS = 64;

const EMPTY = new Uint8Array(0);

export class FrameOut {
  private readonly reported = new Set<string>();

  constructor(private readonly warn: (message: string) => void) {}

  /** Forgets which over-long ids were reported (a new connection). */
  reset(): void {
    this.reported.clear();
  }

  /** Appends `SendBinary(frame)`, or the over-long id error instead. */
  send(actions: SessionAction[], docId: string, payload: Uint8Array): void {
    try {
      actions.push({ type: 'SendBinary', data: encodeFrame(docId, payload) });
    } catch (e) {
      if (!(e instanceof DocIdTooLongError)) throw e;
      this.reportLongId(actions, docId);
    }
  }

  /** True when `docId` can be framed; otherwise reports it (once) and returns false. */
  fits(actions: SessionAction[], docId: string): boolean {
    try {
      encodeFrame(docId, EMPTY);
      return true;
    } catch (e) {
      if (!(e instanceof DocIdTooLongError)) throw e;
      this.reportLongId(actions, docId);
      return false;
    }
  }

  private reportLongId(actions: SessionAction[], docId: string): void {
    this.warn(`[SyncSession] Dropping frame: doc id longer than 255 bytes: ${docId}`);
    if (this.reported.has(docId)) return;
    this.reported.add(docId);
    const prefix = Array.from(docId).slice(0, LONG_ID_PREFIX_CHARS).join('');
    actions.push({ type: 'EmitEvent', event: { type: 'error', message: `Document id longer than 255 bytes: ${prefix}...` } });
  }
}

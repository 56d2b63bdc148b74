/**
 * Outgoing frames of a session. A doc id longer than 255 bytes is never
 * truncated (the original truncates, so long paths collide): its frame is
 * dropped and an `error` event `Document id longer than 255 bytes: <first 64
 * characters>...` is emitted instead, once per id until `reset()`.
 */
import type { SessionAction } from '../../../common/src/wire/envelope';
import { DocIdTooLongError, encodeFrame } from '../../../common/src/wire/frame';

/**
 * Largest frame sent: the sync server's default `--max-message-bytes` (16 MiB).
 * The server closes a connection that sends more, so such a frame is dropped
 * with an `error` event instead (file-limits.ts keeps file bodies well below).
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

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
      const data = encodeFrame(docId, payload);
      if (data.length > MAX_FRAME_BYTES) {
        const mib = (data.length / (1024 * 1024)).toFixed(1);
        this.warn(`[SyncSession] Dropping frame of ${docId}: ${data.length} bytes, over the ${MAX_FRAME_BYTES}-byte message limit`);
        actions.push({ type: 'EmitEvent', event: { type: 'error', message: `Not sent: an update of ${docId} is ${mib} MiB, over the server's 16 MiB message limit` } });
        return;
      }
      actions.push({ type: 'SendBinary', data });
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

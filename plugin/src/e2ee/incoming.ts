/**
 * What the server sends an encrypted session: binary frames decoded into
 * the protocol's messages (only `e2e:` ids of this workspace), text frames
 * only for its refusals (`{"type":"error","doc_id","message"}`, e.g. a
 * workspace that is not encrypted on the server, or a document limit), and
 * the Batches of one Pull put back together when the server split them.
 */
import { decodeE2eeMessage, parseE2eeDocId, type E2eeMessage } from '../../../common/src/e2ee/frames';
import { decodeFrame } from '../../../common/src/wire/frame';

export type Batch = Extract<E2eeMessage, { type: 'batch' }>;

/** A frame of this workspace: its doc tag (null for the whole-workspace id) and message; a string says why it is dropped. */
export function decodeIncoming(bytes: Uint8Array, workspaceId: string): { tag: string | null; msg: E2eeMessage } | string {
  try {
    const { docId, payload } = decodeFrame(bytes);
    const target = parseE2eeDocId(docId);
    if (target === null || target.workspaceId !== workspaceId) return `ignoring a frame of ${docId}`;
    return { tag: target.tag, msg: decodeE2eeMessage(payload) };
  } catch (e) {
    return `dropped a frame: ${(e as Error).message}`;
  }
}

/** The message of a server error text, or null for any other text. */
export function serverErrorText(text: string): string | null {
  try {
    const v = JSON.parse(text) as { type?: unknown; message?: unknown } | null;
    return v !== null && typeof v === 'object' && v.type === 'error' && typeof v.message === 'string' ? v.message : null;
  } catch {
    return null;
  }
}

/**
 * The Batches of one Pull (flag `more`: the server stopped at its size
 * limit), kept until the last comes, so a doc's envelopes are read and
 * applied once, whole: the reconcile policy meets the server's complete
 * state, and nothing moves a cursor before it is applied.
 */
export class BatchAssembly {
  private readonly parts = new Map<string, Batch>();

  /** The whole answer once the last part is in; else the seq to pull after next. */
  add(name: string, batch: Batch): { whole: Batch } | { nextAfter: number } {
    const before = this.parts.get(name);
    // A part with a snapshot (another device compacted meanwhile) folds in every earlier part.
    const merged: Batch = !before || batch.snapshot ? batch : { ...batch, snapshot: before.snapshot, envelopes: [...before.envelopes, ...batch.envelopes] };
    if (!batch.more) {
      this.parts.delete(name);
      return { whole: { ...merged, more: false } };
    }
    this.parts.set(name, merged);
    const last = merged.envelopes[merged.envelopes.length - 1];
    return { nextAfter: last?.seq ?? merged.snapshot?.snapSeq ?? 0 };
  }

  reset(): void {
    this.parts.clear();
  }
}

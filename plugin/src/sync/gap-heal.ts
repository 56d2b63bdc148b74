/**
 * Gaps in a doc: after a frame is applied, a doc that still holds pending
 * structs (an earlier update never arrived; yjs issues 550 and 405) gets a
 * fresh SyncStep1, so the server sends what is missing. One request per doc
 * until the gap closes or the connection restarts.
 */
import type { SessionAction } from '../../../common/src/wire/envelope';
import { encodeSyncStep1 } from '../../../common/src/wire/sync';
import type { FrameOut } from './frame-out';

export class GapHeal {
  /** Doc ids with an outstanding SyncStep1 sent because of pending structs. */
  private readonly requested = new Set<string>();

  constructor(
    private readonly out: FrameOut,
    private readonly log: (message: string) => void,
  ) {}

  /** Sends SyncStep1 for a doc that still waits for missing updates, once per gap. */
  check(actions: SessionAction[], docId: string, pending: boolean, stateVector: () => Uint8Array): void {
    if (!pending) {
      this.requested.delete(docId);
      return;
    }
    if (this.requested.has(docId)) return;
    this.requested.add(docId);
    this.log(`[SyncSession] ${docId} has pending structs; requesting missing updates`);
    this.out.send(actions, docId, encodeSyncStep1(stateVector()));
  }

  /** A new connection: every gap may be asked for again. */
  reset(): void {
    this.requested.clear();
  }
}

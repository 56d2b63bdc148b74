/**
 * Client snapshots of encrypted docs: asked by the server's CompactHint, a
 * device whose doc is pulled to head with nothing waiting seals the doc's
 * whole state with its writer entries (snapshot-payload.ts) as a snapshot
 * envelope covering its cursor, on top of the snapshot it knows (prev snap
 * id). The server stores it only on top of its current one; a conflict means
 * another device compacted first: the session pulls and drops its own.
 */
import { equalBytes } from '../../../common/src/e2ee/bytes';
import { sealEnvelope } from '../../../common/src/e2ee/envelope';
import { SNAP_ID_BYTES } from '../../../common/src/e2ee/envelope-header';
import { SnapshotStatus, type E2eeMessage } from '../../../common/src/e2ee/frames';
import type { SessionDocs } from '../sync/session-host';
import { diffOf } from './doc-names';
import type { DocState } from './doc-state';
import type { Outbox } from './outbox';
import { encodeSnapshotPayload } from './snapshot-payload';
import { EMPTY_SV } from './state-vectors';


export class Compactor {
  /** Snapshots sent and not answered, by req. */
  private readonly sent = new Map<number, { name: string; snapId: Uint8Array; covers: number }>();
  /** Docs the server hinted that could not be compacted yet (not at head, updates waiting). */
  readonly hinted = new Set<string>();

  constructor(
    private readonly docs: SessionDocs,
    private readonly outbox: Outbox,
    private readonly tagOf: (name: string) => string,
  ) {}

  /** The PutSnapshot of a doc at head, or null when there is nothing new to fold or one is out already. */
  snapshot(name: string, state: DocState): Extract<E2eeMessage, { type: 'putSnapshot' }> | null {
    if (state.cursor <= state.snapSeq) return null;
    if ([...this.sent.values()].some((s) => s.name === name)) return null;
    const keys = this.outbox.runKeys();
    const tag = this.tagOf(name);
    const key = keys.docKey(keys.epoch, tag);
    if (!key) return null;
    const snapId = new Uint8Array(SNAP_ID_BYTES);
    crypto.getRandomValues(snapId);
    const payload = encodeSnapshotPayload({ writers: state.writers.list(), update: diffOf(this.docs, name, EMPTY_SV) });
    const env = sealEnvelope(key, { workspaceId: keys.workspaceId, docTag: tag }, {
      kind: 'snapshot',
      epoch: keys.epoch,
      deviceId: keys.deviceId,
      run: keys.run,
      ctr: 0,
      snapshot: { snapId, prevSnapId: state.snapId ?? new Uint8Array(SNAP_ID_BYTES), coversSeq: state.cursor },
    }, payload);
    const req = this.outbox.takeReq();
    this.sent.set(req, { name, snapId, covers: state.cursor });
    return { type: 'putSnapshot', req, env };
  }

  /** The server's answer; true when it is a conflict (the caller pulls). */
  result(state: DocState, msg: Extract<E2eeMessage, { type: 'snapshotResult' }>): boolean {
    const mine = this.sent.get(msg.req);
    if (!mine) return false;
    this.sent.delete(msg.req);
    if (msg.status === SnapshotStatus.Stored && equalBytes(msg.snapId, mine.snapId)) {
      state.snapId = mine.snapId;
      state.snapSeq = Math.max(state.snapSeq, msg.snapSeq);
      return false;
    }
    return msg.status === SnapshotStatus.Conflict;
  }

  /** A new connection: answers to earlier snapshots will not come. */
  reset(): void {
    this.sent.clear();
    this.hinted.clear();
  }
}

/**
 * How a session answers and applies one y-sync payload for the workspace doc
 * or a body doc, reproducing the original's replies byte for byte:
 * - workspace: a SyncStep1 is answered with SyncStep2 (what the peer lacks)
 *   followed by our own SyncStep1; SyncStep2 applies with origin `sync`,
 *   Update with origin `remote`.
 * - body: a SyncStep1 is answered with SyncStep2 only when the diff is longer
 *   than 2 bytes (an empty update is `00 00`); a state vector that cannot be
 *   read gets no answer; updates apply in order.
 * Empty updates are skipped; awareness and auth messages are ignored. All
 * replies to one payload are concatenated into one frame payload.
 */
import {
  concatBytes,
  decodeSyncMessages,
  encodeSyncStep1,
  encodeSyncStep2,
} from '../../../common/src/wire/sync';
import type { BodyApplyOptions, BodyApplyResult, SessionDocs } from './session-host';

export interface WorkspaceApplyOutcome {
  /** Reply payload, or null when nothing asked for one. */
  reply: Uint8Array | null;
  /** Changed file keys, deduplicated, in first-seen order. */
  changedFiles: string[];
}

/** Handles a workspace payload; throws SyncMessageError or whatever the docs throw. */
export function applyWorkspacePayload(docs: SessionDocs, payload: Uint8Array, writeToDisk: boolean): WorkspaceApplyOutcome {
  const replies: Uint8Array[] = [];
  const changed: string[] = [];
  for (const msg of decodeSyncMessages(payload)) {
    if (msg.kind === 'step1') {
      replies.push(encodeSyncStep2(docs.encodeWorkspaceDiff(msg.stateVector)));
      replies.push(encodeSyncStep1(docs.workspaceStateVector()));
    } else if ((msg.kind === 'step2' || msg.kind === 'update') && msg.update.length > 0) {
      changed.push(...docs.applyWorkspaceUpdate(msg.update, msg.kind === 'step2' ? 'sync' : 'remote', writeToDisk));
    }
  }
  return { reply: replies.length > 0 ? concatBytes(replies) : null, changedFiles: [...new Set(changed)] };
}

export interface BodyApplyOutcome {
  /** Reply payload, or null. */
  reply: Uint8Array | null;
  /** The last text change the payload produced, or null when the text did not change. */
  change: BodyApplyResult | null;
}

/**
 * Handles a body payload; throws SyncMessageError or whatever the docs throw.
 * Consecutive updates go to the docs in one call; a SyncStep1 that follows
 * updates in the same payload is answered after they are applied.
 */
export function applyBodyPayload(
  docs: SessionDocs,
  key: string,
  payload: Uint8Array,
  options: BodyApplyOptions,
  /** Called after each successful apply (the session records the body's baseline). */
  applied: () => void = () => {},
): BodyApplyOutcome {
  const replies: Uint8Array[] = [];
  let queued: Uint8Array[] = [];
  let change: BodyApplyResult | null = null;
  const applyQueued = (): void => {
    if (queued.length === 0) return;
    const r = docs.applyBodyUpdates(key, queued, options);
    applied();
    queued = [];
    if (r.content !== null) change = r;
  };
  for (const msg of decodeSyncMessages(payload)) {
    if (msg.kind === 'step1') {
      applyQueued();
      let diff: Uint8Array | null = null;
      try {
        diff = docs.encodeBodyDiff(key, msg.stateVector);
      } catch {
        diff = null;
      }
      if (diff !== null && diff.length > 2) replies.push(encodeSyncStep2(diff));
    } else if ((msg.kind === 'step2' || msg.kind === 'update') && msg.update.length > 0) {
      queued.push(msg.update);
    }
  }
  applyQueued();
  return { reply: replies.length > 0 ? concatBytes(replies) : null, change };
}

/**
 * Only the SyncStep1 answers of a body payload (what the peer lacks), nothing
 * applied: for a body whose file is not active here. Null when there is
 * nothing to send.
 */
export function answerBodyStep1(docs: SessionDocs, key: string, payload: Uint8Array): Uint8Array | null {
  const replies: Uint8Array[] = [];
  for (const msg of decodeSyncMessages(payload)) {
    if (msg.kind !== 'step1') continue;
    let diff: Uint8Array | null = null;
    try {
      diff = docs.encodeBodyDiff(key, msg.stateVector);
    } catch {
      diff = null;
    }
    if (diff !== null && diff.length > 2) replies.push(encodeSyncStep2(diff));
  }
  return replies.length > 0 ? concatBytes(replies) : null;
}

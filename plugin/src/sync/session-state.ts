/**
 * The states of a sync session and the moves allowed between them.
 */

export const SessionState = {
  AwaitingConnect: 'AwaitingConnect', // no socket: frames and texts ignored, local updates dropped
  WaitingForHandshake: 'WaitingForHandshake', // workspace SyncStep1 sent; waiting for manifest, crdt_state or a first frame
  Active: 'Active', // handshake done: frames routed by doc id, local updates sent at once
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/**
 * Allowed moves. `connected` may restart a handshake from any connected
 * state; `disconnected` ends any connected state; only the handshake leads
 * to Active.
 */
export const LEGAL_MOVES: Readonly<Record<SessionState, readonly SessionState[]>> = {
  AwaitingConnect: [SessionState.WaitingForHandshake],
  WaitingForHandshake: [SessionState.WaitingForHandshake, SessionState.Active, SessionState.AwaitingConnect],
  Active: [SessionState.WaitingForHandshake, SessionState.AwaitingConnect],
};

/** An input asked for a state change the machine does not allow. */
export class SessionStateError extends Error {
  override name = 'SessionStateError';
  constructor(
    readonly from: SessionState,
    readonly to: SessionState,
  ) {
    super(`Illegal sync session transition ${from} -> ${to}`);
  }
}

/**
 * The session of an encrypted workspace this device holds no key of (locked,
 * or its stored keys unreadable): nothing is sent, never a plain frame. Each
 * connect reports why; local edits stay in the docs and go out after the
 * unlock (the encrypted session sends what the server was never shown).
 */
import type { SessionAction } from '../../../common/src/wire/envelope';
import { SessionState } from '../sync/session-state';
import type { RuntimeSession, SessionDocs } from '../sync/session-host';

export function lockedMessage(workspaceId: string): string {
  return `Workspace ${workspaceId} is end-to-end encrypted and locked on this device: unlock it with the passphrase to sync`;
}

export class LockedSession implements RuntimeSession {
  readonly state: SessionState = SessionState.AwaitingConnect;

  constructor(
    readonly workspaceId: string,
    readonly writeToDisk: boolean,
    private readonly docs: Pick<SessionDocs, 'drainLocalUpdates'>,
    /** Why it does not sync (the locked message, or why the stored keys are unreadable). */
    private readonly reason: string = lockedMessage(workspaceId),
  ) {}

  connected(): SessionAction[] {
    return [{ type: 'EmitEvent', event: { type: 'error', message: this.reason } }];
  }
  binaryMessage(): SessionAction[] {
    return [];
  }
  textMessage(): SessionAction[] {
    return [];
  }
  snapshotImported(): SessionAction[] {
    return [];
  }
  disconnected(): SessionAction[] {
    return [];
  }
  localUpdate(): SessionAction[] {
    return [];
  }
  flushLocalUpdates(): SessionAction[] {
    // The edits stay in the docs (stored); they are not sent from here.
    this.docs.drainLocalUpdates();
    return [];
  }
  syncBodyFiles(): SessionAction[] {
    return [];
  }
  requestBodies(): SessionAction[] {
    return [];
  }
}

/**
 * What the runtime, the exports and the commands ask of a sync session,
 * whichever protocol it speaks: the plain session (session.ts, y-sync and
 * the Files-Ready handshake) or the encrypted one (e2ee/encrypted-session.ts,
 * envelopes and cursors), or the stand-in of a locked encrypted workspace
 * (e2ee/locked-session.ts). Each input returns the actions the host carries out.
 */
import type { SessionAction } from '../../../common/src/wire/envelope';
import type { SessionState } from './session-state';

export interface RuntimeSession {
  readonly state: SessionState;
  readonly workspaceId: string;
  readonly writeToDisk: boolean;
  /** The socket opened (optionally for another workspace id and disk mode). */
  connected(workspaceId?: string, writeToDisk?: boolean): SessionAction[];
  binaryMessage(bytes: Uint8Array): SessionAction[];
  textMessage(text: string): SessionAction[];
  /** The host imported the snapshot a DownloadSnapshot asked for. */
  snapshotImported(): SessionAction[];
  disconnected(): SessionAction[];
  /** A local change: `docId` a plain doc id (`workspace:`/`body:`), `data` a y-sync message. */
  localUpdate(docId: string, data: Uint8Array): SessionAction[];
  /** Drains the docs' local updates into localUpdate. */
  flushLocalUpdates(): SessionAction[];
  /** The host wants these files' bodies synced now (file opened). */
  syncBodyFiles(paths: readonly string[]): SessionAction[];
  /** Asks the server for these bodies again. */
  requestBodies(keys: readonly string[]): SessionAction[];
  /** The docs were just stored: what the session keeps beside them is written now (an encrypted session's doc states). */
  docsSaved?(): void;
}

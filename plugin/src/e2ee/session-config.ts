/** What an encrypted session (encrypted-session.ts) is built with: the workspace, its keys, the docs and storage. */
import type { SessionDocs } from '../sync/session-host';
import type { SyncLedger } from '../sync/sync-ledger';
import type { DeviceKeys, KeyStorage } from './key-store';

export interface EncryptedSessionConfig {
  workspaceId: string;
  writeToDisk: boolean;
  keys: DeviceKeys;
  docs: SessionDocs;
  ledger: SyncLedger;
  storage: KeyStorage;
  /** Stores the docs that changed (doc states are written only after their docs). */
  saveDocs(): void;
  /** Whether the doc of a name holds no unstored change. */
  isDocStored(name: string): boolean;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

/**
 * The event sink: every event the plugin tells the host (`host_emit_event`)
 * leaves through here, whether the sync session returned it as an action or
 * a module met it on the way (a refused storage write, a file too large, a
 * concurrent edit, snapshot transfer progress). The status the status bar
 * shows (`GetSyncStatus`) is kept from the same events, so an error reported
 * anywhere shows there too.
 */
import { hostEventFor, type SyncEvent } from '../../common/src/wire/events';
import type { HostBridge } from './host/bridge';
import type { TransferStatus } from './transfer-progress';

/** What the status bar shows. */
export interface SyncStatusView {
  error: string | null;
  progress: { completed: number; total: number } | null;
  synced: boolean;
  /** A snapshot upload or download that is running. */
  transfer: TransferStatus | null;
}

/** `ConcurrentEdit`: a received body update typed at the same place as this device's text. */
export interface ConcurrentEditEvent {
  path: string;
  devices: string[];
  update_id: number;
  before_update_id: number;
  message: string;
}

/** `FileSkipped`: a local file left out of sync for its size. */
export interface FileSkippedEvent {
  path: string;
  size: number;
  limit: number;
  message: string;
}

/** What a passphrase KDF runs for: enabling encryption, unlocking, or changing the passphrase. */
export type KeyDerivationOperation = 'enable' | 'unlock' | 'change';

const KEY_DERIVATION_TEXT: Record<KeyDerivationOperation, string> = {
  enable: 'Enabling encryption: deriving the key from the passphrase',
  unlock: 'Unlocking: deriving the key from the passphrase',
  change: 'Changing the passphrase: deriving the new key',
};

export class EventSink {
  readonly status: SyncStatusView = { error: null, progress: null, synced: false, transfer: null };

  constructor(private readonly host: Pick<HostBridge, 'emitEvent' | 'log'>) {}

  /** A sync event (from the session, or an error met elsewhere): the status follows it. */
  sync(event: SyncEvent): void {
    switch (event.type) {
      case 'statusChanged':
        this.status.synced = event.status.state === 'synced';
        // Synced means every body is in: a bootstrap count left over would keep the status at `Syncing n/N`.
        if (event.status.state !== 'syncing') this.status.progress = null;
        if (event.status.state === 'connected' || event.status.state === 'synced') this.status.error = null;
        break;
      case 'progress':
        this.status.progress = { completed: event.completed, total: event.total };
        break;
      case 'error':
        this.status.error = event.message;
        break;
    }
    this.host.emitEvent(hostEventFor(event));
  }

  /** A failure met outside the session, logged and emitted as the Rust plugin's error event. */
  error(message: string): void {
    this.status.error = message;
    this.host.log('error', `[sync] ${message}`);
    this.host.emitEvent(hostEventFor({ type: 'error', message }));
  }

  /** `{"limit","message","path","reason":"too_large","size","type":"FileSkipped"}`. */
  fileSkipped(e: FileSkippedEvent): void {
    this.host.emitEvent({ limit: e.limit, message: e.message, path: e.path, reason: 'too_large', size: e.size, type: 'FileSkipped' });
  }

  /** `{"before_update_id","devices","message","path","type":"ConcurrentEdit","update_id"}`. */
  concurrentEdit(e: ConcurrentEditEvent): void {
    this.host.emitEvent({ before_update_id: e.before_update_id, devices: e.devices, message: e.message, path: e.path, type: 'ConcurrentEdit', update_id: e.update_id });
  }

  /**
   * `{"completed","message","operation","total","type":"KeyDerivationProgress"}`:
   * the passphrase KDF runs for seconds inside one command call; completed/total as in SyncProgress (percent of 100).
   */
  keyDerivationProgress(operation: KeyDerivationOperation, completed: number, total: number): void {
    const message = `${KEY_DERIVATION_TEXT[operation]}… ${Math.round((completed / total) * 100)}%`;
    this.host.emitEvent({ completed, message, operation, total, type: 'KeyDerivationProgress' });
  }

  /** Snapshot transfer progress: the session's progress event shape, without touching the bootstrap count. */
  transferProgress(completed: number, total: number): void {
    this.host.emitEvent(hostEventFor({ type: 'progress', completed, total }));
  }
}

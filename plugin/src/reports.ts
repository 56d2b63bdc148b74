/**
 * Error reporting: problems the plugin meets outside the sync session (a
 * refused storage write, a failed file write, a stored value that does not
 * decode, a file too large to sync), told to the host as events and logged.
 * Warnings met while restoring from storage are kept, so `init` can report
 * them once the host listens.
 */
import type { FileTooLargeError } from './file-limits';
import type { HostBridge } from './host/bridge';

export class Reports {
  /** Problems met while restoring from storage (also logged). */
  readonly loadWarnings: string[] = [];
  /** Files left out of sync for their size: key -> size reported (see file-limits.ts). */
  readonly skippedFiles = new Map<string, number>();
  /** Told of every error reported (the runtime's status bar keeps the last one). */
  onErrorReported: ((message: string) => void) | null = null;

  constructor(private readonly host: HostBridge) {}

  warn(message: string): void {
    this.loadWarnings.push(message);
    this.host.log('warn', `[sync] ${message}`);
  }

  /**
   * Tells the host (once per file and size) that a local file is not synced:
   * `{"type":"FileSkipped","path","size","limit","reason":"too_large","message"}`.
   */
  reportSkipped(error: FileTooLargeError): void {
    if (this.skippedFiles.get(error.path) === error.bytes) return;
    this.skippedFiles.set(error.path, error.bytes);
    this.host.log('warn', `[sync] ${error.message}`);
    this.host.emitEvent({ limit: error.limit, message: error.message, path: error.path, reason: 'too_large', size: error.bytes, type: 'FileSkipped' });
  }

  /** Reports a failure to the host as the Rust plugin's error event shape. */
  reportError(message: string): void {
    this.onErrorReported?.(message);
    this.host.log('error', `[sync] ${message}`);
    this.host.emitEvent({ error: message, status: 'error', type: 'SyncStatusChanged' });
  }
}

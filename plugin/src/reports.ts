/**
 * Error reporting: problems the plugin meets outside the sync session (a
 * refused storage write, a failed file write, a stored value that does not
 * decode, a file too large to sync), logged and told to the host through the
 * event sink (events.ts).
 * Warnings met while restoring from storage are kept, so `init` can report
 * them once the host listens.
 */
import type { EventSink } from './events';
import type { FileTooLargeError } from './file-limits';
import type { HostBridge } from './host/bridge';

export class Reports {
  /** Problems met while restoring from storage (also logged). */
  readonly loadWarnings: string[] = [];
  /** Files left out of sync for their size: key -> size reported (see file-limits.ts). */
  readonly skippedFiles = new Map<string, number>();
  constructor(
    private readonly host: Pick<HostBridge, 'log'>,
    private readonly events: EventSink,
  ) {}

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
    this.events.fileSkipped({ path: error.path, size: error.bytes, limit: error.limit, message: error.message });
  }

  /** Reports a failure to the host as the Rust plugin's error event shape; the status bar shows it. */
  reportError(message: string): void {
    this.events.error(message);
  }
}

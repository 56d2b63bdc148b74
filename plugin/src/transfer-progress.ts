/**
 * Progress of a workspace snapshot transfer (UploadWorkspaceSnapshot,
 * LinkWorkspace, DownloadWorkspace): which phase runs, how many files of how
 * many are done, how many bytes go over the wire.
 *
 * Each phase that works file by file (building the zip, importing the files)
 * emits `{"completed":n,"total":n,"type":"SyncProgress"}` host events: one
 * at 0, then at most about 100 more, the last one at `total`. The HTTP
 * transfer is a single host call (`host_http_request`), so inside it there is
 * nothing to count: its phase carries the byte size instead. The current
 * phase is also handed to a sink (the runtime's status) so that GetSyncStatus
 * can describe it.
 */
import type { EventSink } from './events';

export type TransferKind = 'upload' | 'download';

/** `zip`: reading and compressing files; `send`/`receive`: the HTTP request; `import`: writing files. */
export type TransferPhase = 'zip' | 'send' | 'receive' | 'import';

export interface TransferStatus {
  kind: TransferKind;
  phase: TransferPhase;
  /** Files done in this phase (per-file phases); 0 in the HTTP phases. */
  completed: number;
  /** Files of this phase (per-file phases); for `send` the files in the zip, for `receive` 0. */
  total: number;
  /** Size of the zip (known while sending and importing), else null. */
  bytes: number | null;
}

/** Most SyncProgress events one per-file phase emits (besides the first). */
export const PROGRESS_EVENTS_PER_PHASE = 100;

export class TransferProgress {
  private current: TransferStatus | null = null;
  private lastEmitted = -1;
  private step = 1;

  constructor(
    private readonly events: Pick<EventSink, 'transferProgress'>,
    readonly kind: TransferKind,
    private readonly sink: (status: TransferStatus | null) => void = () => undefined,
  ) {}

  get status(): TransferStatus | null {
    return this.current;
  }

  /** Starts a phase; a per-file phase emits `completed: 0`. */
  begin(phase: TransferPhase, total: number, bytes: number | null = null): void {
    this.current = { kind: this.kind, phase, completed: 0, total, bytes };
    this.step = Math.max(1, Math.ceil(total / PROGRESS_EVENTS_PER_PHASE));
    this.lastEmitted = -1;
    this.sink({ ...this.current });
    if (phase === 'zip' || phase === 'import') this.emit(0);
  }

  /** Files done so far in the current per-file phase. */
  advance(completed: number): void {
    const c = this.current;
    if (!c) return;
    c.completed = completed;
    this.sink({ ...c });
    if (completed === c.total || completed - this.lastEmitted >= this.step) this.emit(completed);
  }

  /** The transfer is over (done or failed): the status no longer shows it. */
  finish(): void {
    this.current = null;
    this.sink(null);
  }

  private emit(completed: number): void {
    if (!this.current || completed === this.lastEmitted) return;
    this.lastEmitted = completed;
    this.events.transferProgress(completed, this.current.total);
  }
}

/** 1234567 -> "1,234,567" (no locale data needed). */
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bytes as a person reads them: "812 B", "4.2 KB", "1.3 MB". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Label, detail and progress value of GetSyncStatus while a transfer runs. */
export function transferStatusText(s: TransferStatus): { label: string; detail: string; progress: { completed: number; total: number } } {
  const files = `${formatCount(s.completed)}/${formatCount(s.total)} files`;
  const size = s.bytes === null ? '' : ` (${formatBytes(s.bytes)})`;
  switch (s.phase) {
    case 'zip':
      return { label: `Uploading snapshot… ${files}`, detail: `Building the snapshot zip: ${files}`, progress: { completed: s.completed, total: s.total } };
    case 'send':
      return {
        label: `Uploading snapshot… sending ${formatCount(s.total)} files${size}`,
        detail: `Sending the snapshot zip${size} to the server`,
        progress: { completed: s.total, total: s.total },
      };
    case 'receive':
      return { label: 'Downloading snapshot…', detail: 'Receiving the snapshot zip from the server', progress: { completed: 0, total: 0 } };
    case 'import':
      return { label: `Downloading snapshot… ${files}`, detail: `Importing the snapshot${size}: ${files}`, progress: { completed: s.completed, total: s.total } };
  }
}

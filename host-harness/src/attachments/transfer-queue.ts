/**
 * The attachment state of a folder, in `<dir>/.diaryx/attachments/`:
 *
 *   state.json     what was last synced per path ({hash, size, mtimeMs}),
 *                  and the queue of pending transfers
 *   partial/<hash> downloads in progress (resumed with Range)
 *
 * Written to a temp file and renamed, so a crash leaves the previous state.
 * The queue is what a crash or a lost connection interrupted: the next run
 * takes those transfers first (an upload resumes from the parts the server
 * already has, a download from its partial file).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface SyncedFile {
  hash: string;
  size: number;
  mtimeMs: number;
}

export interface PendingTransfer {
  kind: 'upload' | 'download';
  path: string;
  hash: string;
  size: number;
  mimeType: string;
  /** The entry that references it (uploads). */
  entry: string;
}

interface StateFile {
  version: 1;
  synced: Record<string, SyncedFile>;
  pending: PendingTransfer[];
}

export class TransferQueue {
  readonly root: string;
  private state: StateFile = { version: 1, synced: {}, pending: [] };

  constructor(workspaceDir: string) {
    this.root = path.join(path.resolve(workspaceDir), '.diaryx', 'attachments');
    fs.mkdirSync(path.join(this.root, 'partial'), { recursive: true });
    try {
      const read = JSON.parse(fs.readFileSync(this.file, 'utf8')) as StateFile;
      if (read.version === 1 && read.synced && Array.isArray(read.pending)) this.state = read;
    } catch {
      // missing or unreadable: start empty (everything is checked again)
    }
  }

  private get file(): string {
    return path.join(this.root, 'state.json');
  }

  /** Where a download of `hash` is kept until it is whole. */
  partialPath(hash: string): string {
    return path.join(this.root, 'partial', hash);
  }

  synced(p: string): SyncedFile | undefined {
    return this.state.synced[p];
  }

  setSynced(p: string, f: SyncedFile | null): void {
    if (f === null) delete this.state.synced[p];
    else this.state.synced[p] = f;
    this.save();
  }

  get pending(): readonly PendingTransfer[] {
    return this.state.pending;
  }

  /** Adds a transfer (replacing one of the same path). */
  add(t: PendingTransfer): void {
    this.state.pending = [...this.state.pending.filter((x) => x.path !== t.path), t];
    this.save();
  }

  done(p: string): void {
    this.state.pending = this.state.pending.filter((x) => x.path !== p);
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    fs.renameSync(tmp, this.file);
  }
}

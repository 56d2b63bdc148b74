/**
 * What a sync job did, one item per change or problem, for a person to read:
 * local changes sent (or pending while offline), remote changes written to
 * the folder, renames, conflict copies, files that are not synced and why,
 * and why the server cannot be reached.
 *
 * The tracker observes the folder events it is handed around their delivery
 * to the plugin, the files the plugin writes and deletes, the plugin's log
 * (front matter parse errors, conflict copies), the socket's status and the
 * progress events. The one thing it decides: only Markdown files reach the
 * plugin (as at start-up, where the plugin scans `.md` files only); other
 * files go to the attachment syncer when there is one (it names those no
 * entry references), else they are named once as not synced.
 */
import fs from 'node:fs';
import path from 'node:path';
import { splitFrontmatter } from '../../common/src/workspace/frontmatter';
import type { FolderEvent } from './folder-watcher';
import type { WsBridgeStatus } from './ws-bridge';

export type ChangeKind = 'created' | 'saved' | 'deleted' | 'renamed';

export type SyncActivity =
  /** A change made in the folder: sent to the server, or pending until it can be. */
  | { kind: 'local'; change: ChangeKind; path: string; from?: string; pending: boolean }
  /** A change from the server written to (or deleted from) the folder. */
  | { kind: 'remote'; change: ChangeKind; path: string; from?: string }
  /** Many files written while a transfer ran (a first download), counted instead of listed. */
  | { kind: 'remote-bulk'; created: number; saved: number }
  /** This device's differing text was kept beside the file. */
  | { kind: 'conflict'; path: string; copy: string }
  /** Two devices typed at the same place of a file (the plugin's ConcurrentEdit event): both texts were merged. */
  | { kind: 'concurrent'; path: string; message: string }
  /** A file that is not synced, with the reason (said once per file and reason). */
  | { kind: 'not-synced'; path: string; reason: string }
  /** A file that was not synced syncs again. */
  | { kind: 'fixed'; path: string }
  /** Changes made while offline went out after reconnecting. */
  | { kind: 'pending-sent'; count: number }
  /** An attachment went to the server, or came from it and was written. */
  | { kind: 'attachment'; direction: 'sent' | 'received'; path: string; bytes: number }
  /** An attachment could not be transferred (tried again). */
  | { kind: 'attachment-failed'; path: string; reason: string }
  /** The connection failed or closed; the next attempt is scheduled. */
  | { kind: 'unreachable'; reason: string; retryInMs: number | null; pending: number; attempt: number; lost: boolean }
  /** Connected again after a failure. */
  | { kind: 'reconnected' };

/** Only Markdown files sync; everything else is said once. */
export function isSyncedPath(rel: string): boolean {
  return rel.toLowerCase().endsWith('.md');
}

/** `(conflict <device>[ N]).md`, the plugin's conflict copy names. */
const CONFLICT_COPY = / \(conflict [0-9a-zA-Z-]+(?: \d+)?\)\.md$/;
/** How long the text of a file that arrived without it is waited for (its write is then not a change of its own). */
const ARRIVAL_MS = 10_000;
const PARSE_ERROR = /Failed to parse frontmatter in (.+?): (.*)$/;
const CONFLICT_LOG = /^\[sync\] (.+): the server had different text; this device's text is kept in (.+)$/;

/** A socket error as a person reads it. */
export function describeConnectionError(status: Pick<WsBridgeStatus, 'lastError' | 'lastErrorCode'>): string {
  const message = status.lastError ?? 'connection closed';
  switch (status.lastErrorCode) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': {
      const host = / (?:ENOTFOUND|EAI_AGAIN) (\S+)/.exec(message)?.[1];
      return `unknown host${host ? ` ${host}` : ''}`;
    }
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'network unreachable';
  }
  const http = /Unexpected server response: (\d+)/.exec(message);
  if (http) return `the server answered HTTP ${http[1]} instead of opening the sync connection (is this a Diaryx sync server URL?)`;
  return message;
}

export class ActivityTracker {
  /** Files in the folder, as far as this tracker knows (to tell created from changed). */
  private readonly present = new Set<string>();
  private localDepth = 0;
  private remoteWrites: { path: string; existed: boolean; empty: boolean }[] = [];
  private remoteDeletes: string[] = [];
  private remoteTimer: NodeJS.Timeout | null = null;
  private readonly notSynced = new Map<string, string>();
  private readonly conflictCopies = new Set<string>();
  private readonly pending = new Set<string>();
  private invalidNow = new Set<string>();
  /** A transfer runs: what the server's changes did is gathered and said, renames and deletions one by one and the rest counted, when it ends. */
  private bulk = false;
  /**
   * Files that arrived from the server without their text yet (the entry
   * comes first, the body right after): the write that brings the text is
   * part of the arrival, not a change of its own.
   */
  private readonly awaitingText = new Map<string, number>();
  private failing = false;
  private reportedAttempt = -1;
  /** Takes the files that are not Markdown (the attachment syncer); null: they are named as not synced. */
  nonMarkdown: ((rel: string) => void) | null = null;

  constructor(
    private readonly dir: string,
    private readonly emit: (activity: SyncActivity) => void,
    private readonly socket: () => WsBridgeStatus | null,
  ) {
    for (const rel of walk(dir)) this.present.add(rel);
  }

  /** A file said to be not synced syncs now (quietly: what it does next is said). */
  syncsNow(rel: string): void {
    this.notSynced.delete(rel);
  }

  /** Says an attachment activity. */
  attachment(a: Extract<SyncActivity, { kind: 'attachment' | 'attachment-failed' }>): void {
    this.emit(a);
  }

  /** Why a file is not synced, when it was said to be. */
  notSyncedReason(rel: string): string | undefined {
    return this.notSynced.get(rel);
  }

  /** Files present at the start that are not synced (said once, as one line per file). */
  reportSkippedAtStart(): void {
    for (const rel of [...this.present].sort()) if (!isSyncedPath(rel)) this.skip(rel);
  }

  private skip(rel: string): void {
    if (this.nonMarkdown) this.nonMarkdown(rel);
    else this.notSyncedBecause(rel, 'not a Markdown (.md) file; only Markdown files sync');
  }

  /** Says (once per reason) that a file is not synced, and why. */
  notSyncedBecause(rel: string, reason: string): void {
    if (this.notSynced.get(rel) === reason) return;
    this.notSynced.set(rel, reason);
    this.emit({ kind: 'not-synced', path: rel, reason });
  }

  /** Takes a folder event: Markdown changes go to the plugin (`deliver`), and what they did is said. */
  async folderEvent(event: FolderEvent, deliver: (event: FolderEvent) => Promise<void>): Promise<void> {
    const { change, target, from } = describeFolderEvent(event);
    if (change === 'deleted') this.present.delete(target);
    else this.present.add(target);
    if (from !== undefined) this.present.delete(from);
    if (from !== undefined) this.notSynced.delete(from);
    if (change === 'deleted') this.notSynced.delete(target);
    let toPlugin: FolderEvent | null = event;
    if (!isSyncedPath(target)) {
      if (change !== 'deleted') this.skip(target);
      // A Markdown file renamed to another extension leaves the workspace.
      toPlugin = from !== undefined && isSyncedPath(from) ? { type: 'file_deleted', payload: { path: from } } : null;
    } else if (from !== undefined && !isSyncedPath(from)) {
      toPlugin = { type: 'file_created', payload: { path: target } };
    }
    if (toPlugin === null) return;
    const said = describeFolderEvent(toPlugin);
    const before = this.socket()?.framesSent ?? 0;
    this.invalidNow = new Set();
    this.localDepth++;
    try {
      await deliver(toPlugin);
    } finally {
      this.localDepth--;
    }
    if (this.invalidNow.has(said.target)) return;
    if (this.notSynced.has(said.target) && said.change !== 'deleted') {
      this.notSynced.delete(said.target);
      this.emit({ kind: 'fixed', path: said.target });
    }
    const status = this.socket();
    const sent = (status?.framesSent ?? 0) > before;
    const open = status?.state === 'open';
    if (!sent && open) return; // the plugin found nothing new in it
    const pending = !sent;
    if (pending) this.pending.add(said.target);
    this.emit({ kind: 'local', change: said.change, path: said.target, ...(said.from !== undefined ? { from: said.from } : {}), pending });
  }

  /** The plugin wrote a file. */
  fileWritten(rel: string, data?: Uint8Array): void {
    const existed = this.present.has(rel);
    this.present.add(rel);
    if (this.conflictCopies.has(rel) || CONFLICT_COPY.test(rel)) return;
    if (this.localDepth > 0) return; // rewritten while taking in a local change (index contents, ...)
    const empty = data !== undefined && isMarkdownWithoutBody(data);
    this.remoteWrites.push({ path: rel, existed, empty });
    this.scheduleRemote();
  }

  /** The plugin deleted a file. */
  fileDeleted(rel: string): void {
    this.present.delete(rel);
    if (this.localDepth > 0) return;
    this.remoteDeletes.push(rel);
    this.scheduleRemote();
  }

  /** A file the plugin left out (its FileSkipped event: over the size limit). */
  fileSkipped(rel: string, message: string): void {
    this.notSyncedBecause(rel, message);
  }

  /** Two devices edited the same place of a file at once (the plugin's ConcurrentEdit event). */
  concurrentEdit(rel: string, message: string): void {
    this.emit({ kind: 'concurrent', path: rel, message });
  }

  /** A plugin log line: front matter parse errors and conflict copies are reported. */
  log(message: string): void {
    const parse = PARSE_ERROR.exec(message);
    if (parse) {
      const [, rel, reason] = parse;
      this.invalidNow.add(rel);
      this.notSyncedBecause(rel, `front matter is not valid YAML (${reason}); fix it and save the file to sync it`);
      return;
    }
    const conflict = CONFLICT_LOG.exec(message);
    if (conflict) {
      this.conflictCopies.add(conflict[2]);
      this.emit({ kind: 'conflict', path: conflict[1], copy: conflict[2] });
    }
  }

  /** A progress event: while a transfer runs, files written are counted, not listed. */
  progress(completed: number, total: number): void {
    if (total > 0 && completed < total) {
      if (!this.bulk) this.flushRemote();
      this.bulk = true;
    } else this.endBulk();
  }

  /** The plugin's status: `synced` ends a transfer and means pending changes went out. */
  status(status: string): void {
    if (status !== 'synced') return;
    this.endBulk();
    if (this.pending.size > 0) {
      const count = this.pending.size;
      this.pending.clear();
      this.emit({ kind: 'pending-sent', count });
    }
  }

  /** A socket status change. */
  socketStatus(s: WsBridgeStatus): void {
    if (s.state === 'backoff') {
      // Said once per failed attempt (the status also changes when sends are queued).
      if (this.failing && s.attempt === this.reportedAttempt) return;
      this.reportedAttempt = s.attempt;
      // The first failure after an open connection: it was lost, not unreachable.
      const lost = !this.failing && s.opens > 0 && s.attempt === 1;
      this.failing = true;
      this.emit({ kind: 'unreachable', reason: describeConnectionError(s), retryInMs: s.nextDelayMs, pending: this.pending.size, attempt: s.attempt, lost });
    } else if (s.state === 'open' && this.failing) {
      this.failing = false;
      this.reportedAttempt = -1;
      this.emit({ kind: 'reconnected' });
    }
  }

  private endBulk(): void {
    if (!this.bulk) return;
    this.bulk = false;
    this.flushRemote(true);
  }

  private scheduleRemote(): void {
    if (this.remoteTimer !== null || this.bulk) return;
    // A rename arrives as a delete and a write in one plugin call; a short
    // pause lets both be seen before anything is said.
    this.remoteTimer = setTimeout(() => this.flushRemote(), 50);
  }

  /** Says what the server's changes did to the folder; `summarize` counts the files written instead of naming each. */
  flushRemote(summarize = false): void {
    if (this.remoteTimer !== null) clearTimeout(this.remoteTimer);
    this.remoteTimer = null;
    const writes = this.remoteWrites;
    const deletes = this.remoteDeletes;
    this.remoteWrites = [];
    this.remoteDeletes = [];
    // New files by name, to pair with deletions of the same name (a rename or move).
    const newByName = new Map<string, string[]>();
    for (const w of writes) {
      if (w.existed) continue;
      const base = path.posix.basename(w.path);
      newByName.set(base, [...(newByName.get(base) ?? []), w.path]);
    }
    const renamedTo = new Map<string, string>();
    for (const d of deletes) {
      if (this.present.has(d)) continue;
      const candidates = newByName.get(path.posix.basename(d));
      const to = candidates?.find((p) => !renamedTo.has(p));
      if (to !== undefined) renamedTo.set(to, d);
    }
    const renamedFrom = new Set(renamedTo.values());
    for (const d of deletes) if (!renamedFrom.has(d) && !this.present.has(d)) this.emit({ kind: 'remote', change: 'deleted', path: d });
    const now = Date.now();
    for (const [p, until] of this.awaitingText) if (until < now) this.awaitingText.delete(p);
    // Whether a file is still without its text after this batch: its last write decides.
    const lastEmpty = new Map<string, boolean>();
    for (const w of writes) lastEmpty.set(w.path, w.empty);
    const seen = new Set<string>();
    const counted = { created: 0, saved: 0 };
    for (const w of writes) {
      if (seen.has(w.path)) continue;
      seen.add(w.path);
      const from = renamedTo.get(w.path);
      if (summarize && from === undefined) {
        counted[w.existed ? 'saved' : 'created']++;
        continue;
      }
      const arriving = from !== undefined || !w.existed;
      if (arriving && lastEmpty.get(w.path) === true) this.awaitingText.set(w.path, now + ARRIVAL_MS);
      if (from !== undefined) this.emit({ kind: 'remote', change: 'renamed', path: w.path, from });
      else if (!w.existed) this.emit({ kind: 'remote', change: 'created', path: w.path });
      else if (this.awaitingText.has(w.path)) {
        if (lastEmpty.get(w.path) === false) this.awaitingText.delete(w.path);
      } else this.emit({ kind: 'remote', change: 'saved', path: w.path });
    }
    if (counted.created + counted.saved > 0) this.emit({ kind: 'remote-bulk', ...counted });
  }

  /** Says what is still buffered; stops the timer. */
  close(): void {
    if (this.bulk) this.endBulk();
    else this.flushRemote();
  }
}

/** A Markdown file with front matter only (an entry whose text comes next). */
function isMarkdownWithoutBody(data: Uint8Array): boolean {
  try {
    return splitFrontmatter(new TextDecoder().decode(data)).body.trim() === '';
  } catch {
    return false;
  }
}

function describeFolderEvent(event: FolderEvent): { change: ChangeKind; target: string; from?: string } {
  switch (event.type) {
    case 'file_created':
      return { change: 'created', target: event.payload.path };
    case 'file_saved':
      return { change: 'saved', target: event.payload.path };
    case 'file_deleted':
      return { change: 'deleted', target: event.payload.path };
    case 'file_moved':
      return { change: 'renamed', target: event.payload.new_path, from: event.payload.old_path };
  }
}

/** Workspace-relative paths of the files under `dir` (dot paths skipped); an unreadable folder is empty. */
function walk(dir: string, rel = '', out: string[] = []): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(dir, child, out);
    else if (e.isFile()) out.push(child);
  }
  return out;
}

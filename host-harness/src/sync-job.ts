/**
 * The main job: keep a workspace folder in sync with a sync server through
 * the plugin. Opens the plugin over the folder with the WebSocket bridge and
 * the folder watcher, picks up what changed on disk while it was not running,
 * links the folder to the workspace id, and reports status and progress.
 *
 * `verify()` checks the outcome: for a plain workspace independently of the
 * plugin (the server's snapshot zip, every Markdown body compared with the
 * folder); for an encrypted one, whose server holds only ciphertext, the
 * plugin's check against the heads the server reports now, and the bodies
 * of its docs compared with the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { splitFrontmatter } from '../../common/src/workspace/frontmatter';
import { AttachmentSync, type AttachmentActivity } from './attachments/attachment-sync';
import type { HttpRequest } from './host-types';
import { syncHttpRequest } from './sync-http';
import { ActivityTracker, type SyncActivity } from './sync-activity';
import { openWorkspaceHost, type WorkspaceHost } from './workspace-host';
import { setUpEncryption, type EncryptionOptions, type EncryptionOutcome } from './encryption-setup';
import type { EncryptedSyncReport } from '../../plugin/src/commands/encrypted-sync-check';

export interface SyncJobOptions {
  dir: string;
  serverUrl: string;
  token: string;
  workspaceId: string;
  wasm?: string;
  /** Status changes: connecting, connected, syncing, synced, disconnected, error. */
  onStatus?: (status: string, detail?: string) => void;
  onProgress?: (completed: number, total: number) => void;
  onLog?: (level: string, message: string) => void;
  /** Each change sent or received and each problem (see SyncActivity). */
  onActivity?: (activity: SyncActivity) => void;
  /** Watch the folder for changes (default true). */
  watch?: boolean;
  /** `wasm` (default) or `node` (the plugin's TypeScript in V8, for comparisons). */
  engine?: 'wasm' | 'node';
  /** Sync the files entries reference through the server's attachment API (default true). */
  attachments?: boolean;
  /** Bytes of one attachment transfer moved so far. */
  onTransferProgress?: (path: string, direction: 'up' | 'down', done: number, total: number) => void;
  /** An encrypted workspace: unlock it here, or turn encryption on (encryption-setup.ts). */
  encryption?: EncryptionOptions;
  /** Progress of the passphrase KDF (KeyDerivationProgress events: percent of 100 and the plugin's line). */
  onKeyDerivation?: (completed: number, total: number, message: string) => void;
}

export interface SyncDifference {
  path: string;
  problem: string;
}

export class SyncJob {
  status = 'starting';
  lastError: string | null = null;
  /** Files the plugin left out (FileSkipped): `verify()` does not count them as differences. */
  readonly skipped = new Set<string>();
  private syncedWaiters: (() => void)[] = [];

  private constructor(
    readonly options: SyncJobOptions,
    readonly host: WorkspaceHost,
  ) {}

  private tracker: ActivityTracker | null = null;
  /** What the encryption step did (null without one). */
  encryption: EncryptionOutcome | null = null;
  /** The attachment syncer (null when turned off). */
  attachments: AttachmentSync | null = null;


  static async start(options: SyncJobOptions): Promise<SyncJob> {
    fs.mkdirSync(options.dir, { recursive: true });
    let job: SyncJob | null = null;
    let host: WorkspaceHost | null = null;
    const tracker = new ActivityTracker(path.resolve(options.dir), (a) => options.onActivity?.(a), () => host?.bridge?.status() ?? null);
    host = await openWorkspaceHost({
      dir: options.dir,
      wasm: options.wasm,
      ws: {
        onStatus: (s) => tracker?.socketStatus(s),
        // A workspace doc update may name other attachment bytes (a filled or new reference).
        onMessage: (data, isBinary) => {
          if (isBinary && job?.status === 'synced' && isWorkspaceFrame(data)) job.attachments?.trigger(REMOTE_TRIGGER_MS);
        },
      },
      watch: options.watch ?? true,
      keepEvents: false,
      onEvent: (event) => job?.onEvent(event),
      onLog: (level, message) => {
        if (level === 'warn' || level === 'error') tracker?.log(message);
        options.onLog?.(level, message);
      },
      onFolderEvent: async (event, deliver) => {
        await tracker.folderEvent(event, deliver);
        job?.attachments?.trigger();
      },
      onFileWritten: (rel, data) => {
        tracker?.fileWritten(rel, data);
        if (job?.status === 'synced') job.attachments?.trigger();
      },
      onFileDeleted: (rel) => {
        tracker?.fileDeleted(rel);
        removeEmptyFolders(path.resolve(options.dir), rel);
      },
      plugin: { engine: options.engine ?? 'wasm' },
      ...(options.attachments ?? true ? { http: (req: HttpRequest) => syncHttpRequest(withoutSnapshotAttachments(req)) } : {}),
    });
    job = new SyncJob(options, host);
    job.tracker = tracker;
    if (options.attachments ?? true) {
      const sync = new AttachmentSync({
        dir: host.dir,
        serverUrl: options.serverUrl,
        token: options.token,
        workspaceId: options.workspaceId,
        command: (name, params) => host!.plugin.command(name, params),
        report: (a) => job!.onAttachment(a),
      });
      job.attachments = sync;
      tracker.nonMarkdown = () => sync.trigger();
    }
    tracker?.reportSkippedAtStart();
    try {
      await job.begin();
    } catch (e) {
      // Nothing may keep the process alive after a failed start (the plugin saves and closes).
      await job.stop().catch(() => undefined);
      throw e;
    }
    return job;
  }

  private onAttachment(a: AttachmentActivity): void {
    const t = this.tracker;
    switch (a.kind) {
      case 'attachment-sent':
        return t?.attachment({ kind: 'attachment', direction: 'sent', path: a.path, bytes: a.bytes });
      case 'attachment-received':
        return t?.attachment({ kind: 'attachment', direction: 'received', path: a.path, bytes: a.bytes });
      case 'attachment-failed':
        return t?.attachment({ kind: 'attachment-failed', path: a.path, reason: a.reason });
      case 'attachment-progress':
        return this.options.onTransferProgress?.(a.path, a.direction, a.done, a.total);
      case 'unreferenced':
        return t?.notSyncedBecause(a.path, 'no entry references it; only Markdown entries and the files they reference sync');
      case 'referenced':
        return t?.syncsNow(a.path);
      case 'not-synced':
        return t?.notSyncedBecause(a.path, a.reason);
    }
  }

  private onEvent(event: unknown): void {
    if (!event || typeof event !== 'object') return;
    const e = event as Record<string, unknown>;
    // Entries changed by the server may name other attachment bytes (a filled or new reference).
    if ((e.type === 'filesChanged' || e.type === 'bodyChanged') && this.status === 'synced') this.attachments?.trigger();
    if (e.type === 'SyncStatusChanged' && typeof e.status === 'string') {
      this.status = e.status;
      if (e.status === 'error') this.lastError = typeof e.error === 'string' ? e.error : 'error';
      this.tracker?.status(e.status);
      this.options.onStatus?.(e.status, typeof e.error === 'string' ? e.error : undefined);
      if (e.status === 'synced') {
        this.attachments?.start();
        const waiters = this.syncedWaiters;
        this.syncedWaiters = [];
        waiters.forEach((w) => w());
      }
    } else if (e.type === 'SyncProgress' && typeof e.completed === 'number' && typeof e.total === 'number') {
      this.tracker?.progress(e.completed, e.total);
      this.options.onProgress?.(e.completed, e.total);
    } else if (e.type === 'FileSkipped' && typeof e.path === 'string') {
      const reason = typeof e.message === 'string' ? e.message : `left out (${String(e.reason)})`;
      this.skipped.add(e.path);
      this.tracker?.fileSkipped(e.path, reason);
    } else if (e.type === 'KeyDerivationProgress' && typeof e.completed === 'number' && typeof e.total === 'number') {
      this.options.onKeyDerivation?.(e.completed, e.total, typeof e.message === 'string' ? e.message : 'Deriving the key from the passphrase');
    } else if (e.type === 'ConcurrentEdit' && typeof e.path === 'string') {
      this.tracker?.concurrentEdit(e.path, typeof e.message === 'string' ? e.message : `${e.path}: edited on two devices at the same time`);
    }
  }

  private async begin(): Promise<void> {
    const { plugin } = this.host;
    const dir = this.host.dir;
    await plugin.manifest();
    await plugin.init({ workspace_root: dir });
    if (this.options.encryption) {
      const { serverUrl, token, workspaceId } = this.options;
      this.encryption = await setUpEncryption(plugin, { serverUrl, token, workspaceId }, this.options.encryption);
    }
    // Link first (the socket opens once this call returns), so that files
    // picked up below are reconciled with what the server already has.
    const res = await plugin.command('set_config', {
      server_url: this.options.serverUrl,
      auth_token: this.options.token,
      workspace_id: this.options.workspaceId,
    });
    if (!res.success) throw new Error(`configuring the plugin failed: ${res.error}`);
    // Pick up what changed on disk while this folder was not being synced.
    if (listMarkdown(dir).length > 0) await plugin.command('InitializeWorkspaceCrdt', { workspace_path: dir });
    const files = await plugin.command('ListCrdtFiles', {});
    if (files.success && Array.isArray(files.data)) {
      for (const [key] of files.data as [string, unknown][]) {
        if (fs.existsSync(path.join(dir, key))) continue;
        const deleted = { type: 'file_deleted' as const, payload: { path: key } };
        const deliver = async () => plugin.event(deleted.type, deleted.payload);
        // Through the tracker, so that the deletion is said like one made while running.
        if (this.tracker) await this.tracker.folderEvent(deleted, deliver);
        else await deliver();
      }
    }
  }

  /** Why a file is not synced, when the job said so (front matter that does not parse, not Markdown). */
  notSyncedReason(rel: string): string | undefined {
    return this.tracker?.notSyncedReason(rel);
  }

  /** Resolves at the next `synced` status (or at once when already synced). */
  waitUntilSynced(timeoutMs: number): Promise<void> {
    if (this.status === 'synced') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not synced after ${timeoutMs} ms (status: ${this.status})`)), timeoutMs);
      timer.unref(); // a caller that gave up waiting must not keep the process alive
      this.syncedWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Differences between the folder and the server (empty = same): for a
   * plain workspace the server's snapshot zip, for an encrypted one (which
   * the server cannot render) this device's own check (encryptedState).
   */
  async verify(): Promise<SyncDifference[]> {
    const differences: SyncDifference[] = [];
    if (this.attachments) {
      // Attachments count too: a pass now, and what it could not transfer.
      await this.attachments.runNow();
      differences.push(...(await this.attachments.differences()));
    }
    const status = await this.host.plugin.command('GetSyncStatus', {});
    const encryption = status.success ? (status.data as { encryption?: unknown }).encryption : undefined;
    const remote = encryption === 'locked' || encryption === 'unlocked' ? await this.encryptedState() : await this.serverSnapshot();
    if ('failure' in remote) return [...differences, ...remote.failure];
    differences.push(...remote.problems);
    const local = new Set(listMarkdown(this.host.dir));
    for (const [name, remoteBody] of remote.bodies) {
      if (!local.has(name)) {
        differences.push({ path: name, problem: `${remote.source}, missing in the folder` });
        continue;
      }
      const localBody = splitFrontmatter(fs.readFileSync(path.join(this.host.dir, name), 'utf8')).body.replace(/^\n/, '');
      if (remoteBody !== localBody) differences.push({ path: name, problem: `body differs from ${remote.source === 'on the server' ? 'the server' : "this device's synced state"}` });
      local.delete(name);
    }
    for (const name of local) {
      const missing = remote.source === 'on the server' ? 'missing on the server' : "missing in this device's synced state";
      differences.push({ path: name, problem: this.skipped.has(name) ? 'not synced: over the size limit for one file' : `in the folder, ${missing}` });
    }
    return differences;
  }

  /** The bodies of the server's snapshot zip (a plain workspace). */
  private async serverSnapshot(): Promise<RemoteState | { failure: SyncDifference[] }> {
    const { serverUrl, token, workspaceId } = this.options;
    const res = await fetch(`${serverUrl.replace(/\/+$/, '')}/api/workspaces/${encodeURIComponent(workspaceId)}/snapshot?include_attachments=false`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (!res.ok) return { failure: [{ path: '', problem: `snapshot download failed: HTTP ${res.status}` }] };
    const bodies = new Map<string, string>();
    for (const [name, bytes] of Object.entries(unzipSync(new Uint8Array(await res.arrayBuffer())))) {
      if (name.endsWith('.md')) bodies.set(name, splitFrontmatter(new TextDecoder().decode(bytes)).body.replace(/^\n/, ''));
    }
    return { source: 'on the server', bodies, problems: [] };
  }

  /**
   * An encrypted workspace, checked by the plugin (CheckEncryptedSync): it
   * asks the server for the head of every doc, waits for the answer, then
   * says what is not pulled to that head or not acknowledged yet, with the
   * bodies its docs hold (compared with the folder by verify).
   */
  private async encryptedState(): Promise<RemoteState | { failure: SyncDifference[] }> {
    const plugin = this.host.plugin;
    const check = async (params: object): Promise<EncryptedSyncReport> => {
      const res = await plugin.command('CheckEncryptedSync', params);
      if (!res.success) throw new Error(`CheckEncryptedSync failed: ${res.error}`);
      return res.data as EncryptedSyncReport;
    };
    let report = await check({ ask_server: true });
    const asked = report.heads.asked;
    const deadline = Date.now() + HEADS_WAIT_MS;
    // The answer comes over the socket (a device that is not connected asks nothing: asked stays at answered).
    while (report.heads.answered < asked && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      report = await check({});
    }
    report = await check({ files: true });
    const problems = report.problems.map((p) => ({
      path: p.doc === 'workspace' ? '' : p.doc,
      problem: p.doc === 'workspace' ? `the file list: ${p.problem}` : p.problem,
    }));
    if (report.heads.answered < asked && problems.length === 0) problems.push({ path: '', problem: `the server did not tell the heads of the documents within ${HEADS_WAIT_MS / 1000} s` });
    const bodies = new Map((report.files ?? []).map((f) => [f.path, f.body.replace(/^\n/, '')]));
    return { source: "in this device's synced state", bodies, problems };
  }

  /** Saves the plugin state, closes the socket and the watcher. */
  async stop(): Promise<void> {
    this.attachments?.close();
    await this.host.close();
    this.tracker?.close();
  }
}

/**
 * The plugin's snapshot requests without attachments: this host moves them
 * itself through the attachment API (resumable, streamed), so a new device's
 * first download, which the plugin asks `include_attachments=true` for, stays
 * markdown (and within the host's response limit).
 */
export function withoutSnapshotAttachments(req: HttpRequest): HttpRequest {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return req;
  }
  if (!/\/api\/workspaces\/[^/]+\/snapshot\/?$/.test(url.pathname) || url.searchParams.get('include_attachments') === 'false') return req;
  url.searchParams.set('include_attachments', 'false');
  return { ...req, url: url.toString() };
}

/** What verify compares the folder with: Markdown bodies by path, and the problems found on the way. */
interface RemoteState {
  source: 'on the server' | "in this device's synced state";
  bodies: Map<string, string>;
  problems: SyncDifference[];
}

/** How long verify waits for the server's answer to an encrypted workspace's heads request. */
const HEADS_WAIT_MS = 10_000;

/** Workspace updates from the server are gathered this long into one attachment pass. */
const REMOTE_TRIGGER_MS = 1_000;

/** Whether a v2 frame (`[u8 len][doc id][payload]`) is for a workspace doc. */
function isWorkspaceFrame(data: Uint8Array): boolean {
  const prefix = 'workspace:';
  if (data.length < 1 + prefix.length || data[0] < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[1 + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/**
 * Removes the folders a deletion left empty, up to (not including) the
 * workspace folder: a folder removed on one device goes on the others too.
 * Only empty folders go (rmdir refuses the rest).
 */
function removeEmptyFolders(root: string, rel: string): void {
  let dir = path.dirname(path.join(root, ...rel.split('/')));
  while (dir !== root && dir.startsWith(root + path.sep)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    dir = path.dirname(dir);
  }
}

/** Workspace-relative Markdown files of a folder (dot folders skipped). */
export function listMarkdown(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.md')) out.push(child);
    }
  };
  walk('');
  return out.sort();
}

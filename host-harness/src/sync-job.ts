/**
 * The main job: keep a workspace folder in sync with a sync server through
 * the plugin. Opens the plugin over the folder with the WebSocket bridge and
 * the folder watcher, picks up what changed on disk while it was not running,
 * links the folder to the workspace id, and reports status and progress.
 *
 * `verify()` checks the outcome independently of the plugin: it downloads the
 * server's snapshot of the workspace and compares every Markdown body with
 * the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { splitFrontmatter } from '../../plugin/src/core/frontmatter';
import { openWorkspaceHost, type WorkspaceHost } from './workspace-host';

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
  /** Watch the folder for changes (default true). */
  watch?: boolean;
  /** `wasm` (default) or `node` (the plugin's TypeScript in V8, for comparisons). */
  engine?: 'wasm' | 'node';
}

export interface SyncDifference {
  path: string;
  problem: string;
}

export class SyncJob {
  status = 'starting';
  lastError: string | null = null;
  private syncedWaiters: (() => void)[] = [];

  private constructor(
    readonly options: SyncJobOptions,
    readonly host: WorkspaceHost,
  ) {}

  static async start(options: SyncJobOptions): Promise<SyncJob> {
    fs.mkdirSync(options.dir, { recursive: true });
    let job: SyncJob | null = null;
    const host = await openWorkspaceHost({
      dir: options.dir,
      wasm: options.wasm,
      ws: true,
      watch: options.watch ?? true,
      keepEvents: false,
      onEvent: (event) => job?.onEvent(event),
      onLog: (level, message) => options.onLog?.(level, message),
      plugin: { engine: options.engine ?? 'wasm' },
    });
    job = new SyncJob(options, host);
    await job.begin();
    return job;
  }

  private onEvent(event: unknown): void {
    if (!event || typeof event !== 'object') return;
    const e = event as Record<string, unknown>;
    if (e.type === 'SyncStatusChanged' && typeof e.status === 'string') {
      this.status = e.status;
      if (e.status === 'error') this.lastError = typeof e.error === 'string' ? e.error : 'error';
      this.options.onStatus?.(e.status, typeof e.error === 'string' ? e.error : undefined);
      if (e.status === 'synced') {
        const waiters = this.syncedWaiters;
        this.syncedWaiters = [];
        waiters.forEach((w) => w());
      }
    } else if (e.type === 'SyncProgress' && typeof e.completed === 'number' && typeof e.total === 'number') {
      this.options.onProgress?.(e.completed, e.total);
    }
  }

  private async begin(): Promise<void> {
    const { plugin } = this.host;
    const dir = this.host.dir;
    await plugin.manifest();
    await plugin.init({ workspace_root: dir });
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
        if (!fs.existsSync(path.join(dir, key))) await plugin.event('file_deleted', { path: key });
      }
    }
  }

  /** Resolves at the next `synced` status (or at once when already synced). */
  waitUntilSynced(timeoutMs: number): Promise<void> {
    if (this.status === 'synced') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not synced after ${timeoutMs} ms (status: ${this.status})`)), timeoutMs);
      this.syncedWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Differences between the folder and the server's snapshot of the workspace (empty = same). */
  async verify(): Promise<SyncDifference[]> {
    const { serverUrl, token, workspaceId } = this.options;
    const res = await fetch(`${serverUrl.replace(/\/+$/, '')}/api/workspaces/${encodeURIComponent(workspaceId)}/snapshot?include_attachments=false`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (!res.ok) return [{ path: '', problem: `snapshot download failed: HTTP ${res.status}` }];
    const remote = unzipSync(new Uint8Array(await res.arrayBuffer()));
    const differences: SyncDifference[] = [];
    const local = new Set(listMarkdown(this.host.dir));
    for (const [name, bytes] of Object.entries(remote)) {
      if (!name.endsWith('.md')) continue;
      const file = path.join(this.host.dir, name);
      if (!local.has(name)) {
        differences.push({ path: name, problem: 'on the server, missing in the folder' });
        continue;
      }
      const remoteBody = splitFrontmatter(new TextDecoder().decode(bytes)).body.replace(/^\n/, '');
      const localBody = splitFrontmatter(fs.readFileSync(file, 'utf8')).body.replace(/^\n/, '');
      if (remoteBody !== localBody) differences.push({ path: name, problem: 'body differs from the server' });
      local.delete(name);
    }
    for (const name of local) differences.push({ path: name, problem: 'in the folder, missing on the server' });
    return differences;
  }

  /** Saves the plugin state, closes the socket and the watcher. */
  async stop(): Promise<void> {
    await this.host.close();
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

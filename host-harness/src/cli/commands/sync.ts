/**
 * `diaryx-sync sync --dir DIR [--server URL] [--workspace-id ID] [--token T] [--once]`
 *
 * Syncs a workspace folder with a sync server and keeps syncing as files
 * change, until Ctrl-C. Without `--server` it uses the embedded local server
 * (started on 127.0.0.1:3030, or reused when one already runs there). With
 * `--once` it exits 0 as soon as the folder and the server hold the same state,
 * non-zero with the differences otherwise.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { DEFAULT_LOCAL_DATA_DIR, DEFAULT_LOCAL_PORT, ensureLocalServer, type LocalServer } from '../../local-server';
import { SyncJob } from '../../sync-job';
import { closeSharedHttpClient } from '../../sync-http';
import { ActionableError } from '../errors';
import { ensurePluginModule, withWasmOption } from '../plugin-session';

export const DEFAULT_WORKSPACE_ID = 'diaryx-demo';
/** How long `--once` waits for the first full sync. */
const ONCE_TIMEOUT_MS = 120_000;
/** Quiet time after `synced` before comparing with the server. */
const SETTLE_MS = 500;

interface SyncFlags {
  dir: string;
  server?: string;
  workspaceId: string;
  token?: string;
  once?: boolean;
  demo?: boolean;
  port: string;
  dataDir: string;
  wasm: string;
  verbose?: boolean;
}

/** Demo entries, in the front matter format the plugin writes (so every device has the same bytes). */
const DEMO_FILES: Record<string, string> = {
  'README.md':
    '---\ntitle: My Journal\ncontents:\n  - "[Day One](/days/day-one.md)"\nupdated: "2026-01-01T09:00:00.000+00:00"\n---\n\n# My Journal\n\nEntries synced by diaryx-sync.\n',
  'days/day-one.md':
    '---\ntitle: Day One\npart_of: "[README](/README.md)"\nupdated: "2026-01-01T09:00:00.000+00:00"\n---\n\nEdit this file on one device and watch it change on the other.\n',
};

/** Fills an empty folder with a small demo workspace. */
export function writeDemoWorkspace(dir: string): void {
  for (const [rel, text] of Object.entries(DEMO_FILES)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

function isEmptyFolder(dir: string): boolean {
  return !fs.existsSync(dir) || fs.readdirSync(dir).filter((n) => !n.startsWith('.')).length === 0;
}

async function run(flags: SyncFlags): Promise<void> {
  const dir = path.resolve(flags.dir);
  const fresh = isEmptyFolder(dir);
  fs.mkdirSync(dir, { recursive: true });
  const wasm = ensurePluginModule(flags.wasm);

  let local: LocalServer | null = null;
  let serverUrl = flags.server;
  let token = flags.token ?? process.env.DIARYX_SYNC_TOKEN;
  if (!serverUrl) {
    local = await ensureLocalServer({ port: Number(flags.port), dataDir: flags.dataDir });
    serverUrl = local.url;
    token ??= local.token;
    process.stderr.write(`${local.started ? 'started' : 'using'} the local sync server at ${serverUrl}\n`);
  }
  if (!token) throw new ActionableError('no token: pass --token, or create one with `diaryx-sync token create --user NAME`');
  // A new demo folder gets content only when the workspace has none yet on the server.
  if (fresh && flags.demo && !(await workspaceHasFiles(serverUrl, token, flags.workspaceId))) writeDemoWorkspace(dir);

  const tty = process.stderr.isTTY === true && !flags.once;
  const bar = new cliProgress.SingleBar(
    { format: 'initial sync [{bar}] {value}/{total} files', hideCursor: true, clearOnComplete: true, stream: process.stderr, noTTYOutput: false },
    cliProgress.Presets.shades_classic,
  );
  let barActive = false;
  const job = await SyncJob.start({
    dir,
    serverUrl,
    token,
    workspaceId: flags.workspaceId,
    wasm,
    watch: !flags.once,
    onLog: flags.verbose ? (level, message) => process.stderr.write(`[plugin ${level}] ${message}\n`) : undefined,
    onProgress: (completed, total) => {
      if (total <= 0) return;
      if (!barActive && tty) {
        bar.start(total, completed);
        barActive = true;
      } else if (barActive) bar.update(completed);
    },
    onStatus: (status, detail) => {
      if (barActive && (status === 'synced' || status === 'disconnected' || status === 'error')) {
        bar.stop();
        barActive = false;
      }
      process.stderr.write(`${new Date().toLocaleTimeString()} ${status}${detail ? `: ${detail}` : ''}\n`);
    },
  });

  const stop = async () => {
    if (barActive) bar.stop();
    await job.stop();
    closeSharedHttpClient();
    await local?.stop();
  };

  if (flags.once) {
    try {
      await job.waitUntilSynced(ONCE_TIMEOUT_MS);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      let differences = await job.verify();
      for (let attempt = 0; differences.length > 0 && attempt < 10; attempt++) {
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        differences = await job.verify();
      }
      if (differences.length > 0) {
        throw new ActionableError(`the folder and the server differ:\n${differences.map((d) => `  ${d.path}: ${d.problem}`).join('\n')}`);
      }
      process.stdout.write(`in sync: ${dir} <-> ${serverUrl} workspace ${flags.workspaceId}\n`);
    } finally {
      await stop();
    }
    return;
  }

  process.stderr.write(`syncing ${dir} with workspace ${flags.workspaceId}; press Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.stderr.write('\nstopping…\n');
      void stop().then(resolve, resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function workspaceHasFiles(serverUrl: string, token: string, workspaceId: string): Promise<boolean> {
  try {
    const res = await fetch(`${serverUrl}/api/workspaces/${encodeURIComponent(workspaceId)}/snapshot?include_attachments=false`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    return res.ok && (await res.arrayBuffer()).byteLength > 22; // an empty zip is 22 bytes
  } catch {
    return false;
  }
}

export function register(program: Command): void {
  withWasmOption(
    program
      .command('sync')
      .description('sync a workspace folder with a sync server and keep syncing as files change')
      .requiredOption('--dir <dir>', 'workspace folder (created when missing)')
      .option('--server <url>', 'sync server URL (default: the embedded local server)')
      .option('--workspace-id <id>', 'workspace id on the server', DEFAULT_WORKSPACE_ID)
      .option('--token <token>', 'auth token (default: $DIARYX_SYNC_TOKEN, or the local server user)')
      .option('--once', 'exit when the folder and the server hold the same state')
      .option('--demo', 'fill a new empty folder with a demo workspace when the server has none')
      .option('--port <port>', 'port of the embedded local server', String(DEFAULT_LOCAL_PORT))
      .option('--data-dir <dir>', 'data folder of the embedded local server', DEFAULT_LOCAL_DATA_DIR),
  ).action((flags: SyncFlags) => run(flags));
}

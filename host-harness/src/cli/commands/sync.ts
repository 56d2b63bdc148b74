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
import { DEFAULT_LOCAL_DATA_DIR, DEFAULT_LOCAL_PORT, ensureLocalServer, type LocalServer } from '../../local-server';
import { httpBase } from '../../../../common/src/host/server-url';
import { checkAccess, serverUrlProblem, type AccessCheck } from '../../server-access';
import { SyncJob } from '../../sync-job';
import { closeSharedHttpClient } from '../../sync-http';
import { ActionableError, EXIT, describeFsError } from '../../../../common/src/cli/errors';
import { ensurePluginModule, withWasmOption } from '../plugin-session';
import { SyncPrinter, type Verbosity } from '../sync-output';
import { remoteKeyRecord } from '../../encryption-setup';
import { PASSPHRASE_ENV, readPassphrase } from '../passphrase';

export const DEFAULT_WORKSPACE_ID = 'diaryx-demo';
/** How long `--once` waits for the first full sync, by default (seconds). */
const ONCE_TIMEOUT_S = 120;
/** Quiet time after `synced` before comparing with the server. */
const SETTLE_MS = 500;
/** How long after connecting a workspace id that is not the user's may take to become theirs (a new one). */
const CLAIM_WAIT_MS = 3000;

interface SyncFlags {
  dir: string;
  server?: string;
  workspaceId: string;
  token?: string;
  tokenFile?: string;
  once?: boolean;
  timeout: string;
  demo?: boolean;
  port: string;
  dataDir: string;
  wasm: string;
  verbose?: boolean;
  quiet?: boolean;
  encrypt?: boolean;
  passphraseFile?: string;
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
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).length === 0;
}

/**
 * The workspace folder: an existing folder this process can write, or a new
 * one (announced, so a mistyped path is seen at once).
 */
function prepareFolder(dir: string, say: (text: string) => void): void {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = null;
  }
  if (stat && !stat.isDirectory()) throw new ActionableError(`--dir ${dir} is a file, not a folder`);
  if (!stat) {
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new ActionableError(`cannot create the folder ${dir}: ${describeFsError(e, false) ?? (e as Error).message}`, EXIT.folder);
    }
    say(`created the folder ${dir} (it did not exist)`);
  }
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
    const state = path.join(dir, '.diaryx');
    if (fs.existsSync(state)) fs.accessSync(state, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw new ActionableError(`cannot write to the folder ${dir}: ${describeFsError(e, false) ?? (e as Error).message}`, EXIT.folder);
  }
}

/** The token: --token, then --token-file, then $DIARYX_SYNC_TOKEN. */
function tokenFrom(flags: SyncFlags): string | undefined {
  if (flags.token !== undefined) return flags.token.trim();
  if (flags.tokenFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(flags.tokenFile, 'utf8');
    } catch (e) {
      throw new ActionableError(`cannot read --token-file ${flags.tokenFile}: ${describeFsError(e) ?? (e as Error).message}`);
    }
    const token = text.trim().split('\n').pop()?.trim();
    if (!token) throw new ActionableError(`--token-file ${flags.tokenFile} is empty`);
    return token;
  }
  const env = process.env.DIARYX_SYNC_TOKEN?.trim();
  return env ? env : undefined;
}

function refusedToken(serverUrl: string, status: number): ActionableError {
  return new ActionableError(
    `the server at ${serverUrl} refused the token (HTTP ${status}): it is mistyped, revoked or from another server; create one with \`diaryx-sync token create --user NAME\` on the server`,
    EXIT.access,
  );
}

function foreignWorkspace(workspaceId: string): ActionableError {
  return new ActionableError(
    `access to workspace ${workspaceId} denied: it belongs to another user (or the server does not create new workspaces); choose another --workspace-id`,
    EXIT.access,
  );
}

/** A failure that ends `sync` (resolves once, with the error to end with). */
class Fatal {
  error: ActionableError | null = null;
  private resolve!: (e: ActionableError) => void;
  readonly promise = new Promise<ActionableError>((r) => (this.resolve = r));
  fail(e: ActionableError): void {
    if (this.error) return;
    this.error = e;
    this.resolve(e);
  }
}

const WRITE_ERROR = /EACCES|EPERM|EROFS|ENOSPC|permission denied|read-only/i;

async function run(flags: SyncFlags): Promise<void> {
  const verbosity: Verbosity = flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal';
  const printer = new SyncPrinter(verbosity, process.stderr.isTTY === true && !flags.once);
  const dir = path.resolve(flags.dir);
  const timeoutS = Number(flags.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new ActionableError('--timeout must be a positive number of seconds');
  if (flags.server !== undefined) {
    const problem = serverUrlProblem(flags.server);
    if (problem) throw new ActionableError(problem);
  }
  let token = tokenFrom(flags);
  prepareFolder(dir, (t) => printer.info(t));
  const fresh = isEmptyFolder(dir);
  const wasm = ensurePluginModule(flags.wasm);

  let local: LocalServer | null = null;
  let serverUrl = flags.server;
  if (!serverUrl) {
    const dataDir = path.resolve(flags.dataDir);
    if (fs.existsSync(dataDir) && !fs.statSync(dataDir).isDirectory()) throw new ActionableError(`--data-dir ${dataDir} is a file, not a folder`);
    if (!fs.existsSync(dataDir)) printer.info(`creating the local server's data folder ${dataDir} (new and empty)`);
    local = await ensureLocalServer({ port: Number(flags.port), dataDir: flags.dataDir }).catch((e: unknown) => {
      throw new ActionableError(`${(e as Error).message} (another program may use port ${flags.port}: try --port)`);
    });
    serverUrl = local.url;
    token ??= local.token;
    printer.info(`${local.started ? 'started' : 'using'} the local sync server at ${serverUrl}`);
  }
  if (!token) {
    throw new ActionableError('no token: set DIARYX_SYNC_TOKEN or pass --token-file FILE (create one with `diaryx-sync token create --user NAME`)');
  }
  const fatal = new Fatal();
  let access: AccessCheck = await checkAccess(serverUrl, token, flags.workspaceId);
  if (access.kind === 'refused') throw refusedToken(serverUrl, access.status);
  if (access.kind === 'not-a-server') throw new ActionableError(`${serverUrl} does not look like a Diaryx sync server (${access.detail}); check --server`);
  // Unreachable: the socket's attempts say why, with the next retry.
  const remoteEncrypted = access.kind === 'unreachable' ? null : await remoteKeyRecord(serverUrl, token, flags.workspaceId);
  if (flags.encrypt && remoteEncrypted === null) {
    throw new ActionableError(`--encrypt: the server at ${serverUrl} cannot be asked whether workspace ${flags.workspaceId} is encrypted (${access.kind === 'unreachable' ? access.reason : 'no answer'}); try again when it is reachable`, EXIT.unreachable);
  }
  // A new demo folder gets content only when the workspace has none yet on the server (an encrypted one has its own).
  if (fresh && flags.demo && access.kind !== 'unreachable' && !remoteEncrypted && !(await workspaceHasFiles(serverUrl, token, flags.workspaceId))) writeDemoWorkspace(dir);
  const purpose = remoteEncrypted ? `unlock the end-to-end encrypted workspace ${flags.workspaceId}` : `encrypt the new workspace ${flags.workspaceId}`;

  let lastUnreachable = access.kind === 'unreachable' ? access.reason : null;
  const job = await SyncJob.start({
    dir,
    serverUrl,
    token,
    workspaceId: flags.workspaceId,
    wasm,
    watch: !flags.once,
    onLog: flags.verbose ? (level, message) => process.stderr.write(`[plugin ${level}] ${message}\n`) : undefined,
    onProgress: (completed, total) => printer.progress(completed, total),
    onTransferProgress: (p, direction, done, total) => printer.transfer(p, direction, done, total),
    encryption:
      flags.encrypt || remoteEncrypted
        ? { enable: flags.encrypt === true, remoteEncrypted: remoteEncrypted === true, passphrase: (confirm) => readPassphrase({ file: flags.passphraseFile }, purpose, confirm) }
        : undefined,
    onKeyDerivation: (completed, total, message) => printer.keyDerivation(completed, total, message),
    onActivity: (a) => {
      if (a.kind === 'unreachable') lastUnreachable = a.reason;
      if (a.kind === 'reconnected') {
        lastUnreachable = null;
        // The server may have come back without this token (revoked, another data folder).
        void checkAccess(serverUrl, token, flags.workspaceId).then((again) => {
          if (again.kind === 'refused') fatal.fail(refusedToken(serverUrl, again.status));
        });
      }
      printer.activity(a);
    },
    onStatus: (status, detail) => {
      printer.status(status, detail);
      if (status === 'error' && flags.once) {
        fatal.fail(new ActionableError(`sync failed: ${detail ?? 'error'}`, WRITE_ERROR.test(detail ?? '') ? EXIT.folder : EXIT.notInSync));
      }
    },
  }).catch(async (e: unknown) => {
    printer.stop();
    closeSharedHttpClient();
    await local?.stop();
    if (e instanceof ActionableError) throw e;
    const fsError = describeFsError(e);
    if (fsError) throw new ActionableError(`cannot use the folder ${dir}: ${fsError}`, EXIT.folder);
    throw e;
  });

  // A device holding only the locked marker never connects: the unlock happens at start, with the server's key record.
  if (!job.encryption || job.encryption === 'plain') {
    const status = await job.host.plugin.command('GetSyncStatus', {});
    if (status.success && (status.data as { encryption?: unknown }).encryption === 'locked') {
      printer.stop();
      await job.stop();
      closeSharedHttpClient();
      await local?.stop();
      throw remoteEncrypted === null
        ? new ActionableError(`workspace ${flags.workspaceId} is end-to-end encrypted and locked on this device, and the server at ${serverUrl} cannot be asked for its key record (${lastUnreachable ?? 'no answer'}): run sync again with the passphrase once it is reachable`, EXIT.unreachable)
        : new ActionableError(`workspace ${flags.workspaceId} is end-to-end encrypted and locked on this device, but the server at ${serverUrl} holds no key record for it: it cannot be unlocked there`);
    }
  }
  if (job.encryption === 'enabled') printer.info(`end-to-end encryption is on for workspace ${flags.workspaceId}: the server keeps only ciphertext; other devices need the passphrase`);
  if (job.encryption === 'unlocked') printer.info(`unlocked the end-to-end encrypted workspace ${flags.workspaceId} on this device`);
  let stopped = false;
  // A workspace id that is not the user's must become theirs once connected
  // (a new workspace); otherwise it is another user's and nothing would sync.
  const claimCheck = (async () => {
    while (access.kind !== 'owned' && !fatal.error && !stopped) {
      if ((job.host.bridge?.status().opens ?? 0) === 0) {
        await sleep(200);
        continue;
      }
      const deadline = Date.now() + CLAIM_WAIT_MS;
      while (Date.now() < deadline && !stopped) {
        await sleep(300);
        access = await checkAccess(serverUrl, token, flags.workspaceId);
        if (access.kind === 'owned') return;
        if (access.kind === 'refused') return fatal.fail(refusedToken(serverUrl, access.status));
        if (access.kind === 'unreachable') break;
      }
      if (access.kind === 'not-owned') return fatal.fail(foreignWorkspace(flags.workspaceId));
    }
  })();

  const stop = async () => {
    stopped = true;
    printer.stop();
    await job.stop();
    await claimCheck;
    closeSharedHttpClient();
    await local?.stop();
  };

  if (flags.once) {
    try {
      const outcome = await Promise.race([
        job.waitUntilSynced(timeoutS * 1000).then(
          () => null,
          () =>
            new ActionableError(
              lastUnreachable !== null
                ? `server unreachable after ${timeoutS} s: ${lastUnreachable}`
                : `not in sync after ${timeoutS} s (status: ${job.status})`,
              lastUnreachable !== null ? EXIT.unreachable : EXIT.notInSync,
            ),
        ),
        fatal.promise,
      ]);
      if (outcome) throw outcome;
      // Not yet known to be the user's workspace: wait for the check (it fails or returns).
      while (access.kind !== 'owned' && !fatal.error) await Promise.race([sleep(100), fatal.promise]);
      if (fatal.error) throw fatal.error;
      await sleep(SETTLE_MS);
      let differences = await job.verify();
      for (let attempt = 0; differences.length > 0 && attempt < 10 && !fatal.error; attempt++) {
        await sleep(SETTLE_MS);
        differences = await job.verify();
      }
      if (fatal.error) throw fatal.error;
      if (differences.length > 0) {
        const lines = differences.map((d) => `  ${d.path}: ${d.problem}${job.notSyncedReason(d.path) ? ` (not synced: ${job.notSyncedReason(d.path)})` : ''}`);
        throw new ActionableError(`the folder and the server differ:\n${lines.join('\n')}`, EXIT.notInSync);
      }
      process.stdout.write(`in sync: ${dir} <-> ${serverUrl} workspace ${flags.workspaceId}\n`);
    } finally {
      await stop();
    }
    return;
  }

  printer.info(`syncing ${dir} with workspace ${flags.workspaceId} at ${httpBase(serverUrl)}; press Ctrl-C to stop`);
  const ended = await new Promise<ActionableError | null>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(null);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void fatal.promise.then((e) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(e);
    });
  });
  if (!ended && verbosity !== 'quiet') process.stderr.write('\nstopping…\n');
  await stop();
  if (ended) throw ended;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

const SYNC_EXAMPLES = `Examples:
  diaryx-sync sync --dir ~/journal
      sync with the local server on this machine (started when none runs)
  DIARYX_SYNC_TOKEN=$(cat ~/.diaryx-token) diaryx-sync sync --dir ~/journal --server https://sync.example.org --workspace-id journal
      sync with a remote server; the token comes from the environment (a --token value is visible to other users in \`ps\`)
  diaryx-sync sync --dir ~/journal --once --token-file ~/.diaryx-token --server http://192.168.1.5:3030
      sync once and exit: 0 = in sync; see the exit codes in the README
  diaryx-sync sync --dir ~/journal --workspace-id private --encrypt --passphrase-file ~/.journal-passphrase
      a new end-to-end encrypted workspace; other devices join it with the same passphrase (file, $${PASSPHRASE_ENV} or a prompt)

`;

export function register(program: Command): void {
  withWasmOption(
    program
      .command('sync')
      .description('sync a workspace folder with a sync server and keep syncing as files change')
      .addHelpText('before', SYNC_EXAMPLES)
      .requiredOption('--dir <dir>', 'workspace folder (created, with a message, when missing)')
      .option('--server <url>', 'sync server URL, http:// or https:// (default: the embedded local server)')
      .option('--workspace-id <id>', 'workspace id on the server', DEFAULT_WORKSPACE_ID)
      .option('--token-file <file>', 'read the auth token from this file (preferred, with $DIARYX_SYNC_TOKEN)')
      .option('--token <token>', 'auth token; visible to other users in `ps`, prefer $DIARYX_SYNC_TOKEN or --token-file')
      .option('--once', 'exit when the folder and the server hold the same state')
      .option('--timeout <seconds>', 'with --once: give up after this long', String(ONCE_TIMEOUT_S))
      .option('-q, --quiet', 'print problems only')
      .option('--encrypt', 'turn on end-to-end encryption for a new workspace (the server keeps only ciphertext)')
      .option('--passphrase-file <file>', `the passphrase of an encrypted workspace (else $${PASSPHRASE_ENV}, else asked on a terminal)`)
      .option('--demo', 'fill a new empty folder with a demo workspace when the server has none')
      .option('--port <port>', 'port of the embedded local server', String(DEFAULT_LOCAL_PORT))
      .option('--data-dir <dir>', 'data folder of the embedded local server', DEFAULT_LOCAL_DATA_DIR),
  ).action((flags: SyncFlags) => run(flags));
}

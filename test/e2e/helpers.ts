/**
 * End-to-end helpers: a real sync server process (`server/src/main.ts serve`),
 * tokens from the `token create` command, devices (SyncJob over a temp folder
 * with the built plugin, the WebSocket bridge and the folder watcher), entry
 * files in the plugin's own format, folder snapshots and polling waits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { SyncJob } from '../../host-harness/src/sync-job';
import { sha256Hex } from '../../host-harness/src/workspace-fs';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** A temporary folder, removed by `cleanupTemp`. */
const temps: string[] = [];
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `diaryx-e2e-${prefix}-`));
  temps.push(dir);
  return dir;
}
export function cleanupTemp(): void {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

// ---- polling ----------------------------------------------------------------

/** Resolves when `cond()` is truthy, polling; rejects after `timeout` ms with `what` and the last detail. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeout = 20_000, interval = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
      lastError = null;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// ---- server process -----------------------------------------------------------

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  dataDir: string;
  /** Everything the process wrote so far, in order (its log). */
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/src/main.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Spawns `serve --port <port> --data-dir <dataDir>` and waits for its `listening on URL` line. */
export async function startServerProcess(dataDir: string, opts: { port?: number; args?: string[] } = {}): Promise<ServerProcess> {
  const proc = cli(['serve', '--port', String(opts.port ?? 0), '--data-dir', dataDir, '--log-level', 'warn', ...(opts.args ?? [])]);
  const stdout: string[] = [];
  const stderr: string[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => stdout.push(d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const m = await waitFor(
    () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`server exited: ${stderr.join('')}`);
      return /listening on (http:\/\/\S+)/.exec(stdout.join(''));
    },
    'the server to listen',
    30_000,
  );
  const url = m[1];
  const ended = () => proc.exitCode !== null || proc.signalCode !== null;
  return {
    proc,
    url,
    port: Number(new URL(url).port),
    dataDir,
    stdout,
    stderr,
    exited,
    stop: async () => {
      if (!ended()) proc.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (!ended()) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** `token create --user <user> --data-dir <dataDir>`: the token is the last stdout line. */
export async function createToken(dataDir: string, user: string): Promise<string> {
  const proc = cli(['token', 'create', '--user', user, '--data-dir', dataDir]);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`token create failed (${code}): ${err}`);
  const lines = out.trim().split('\n');
  return lines[lines.length - 1].trim();
}

// ---- devices ------------------------------------------------------------------

export interface Device {
  name: string;
  dir: string;
  job: SyncJob;
  logs: string[];
  statuses: string[];
}

export interface DeviceOptions {
  serverUrl: string;
  token: string;
  workspaceId: string;
  watch?: boolean;
}

/** Starts a SyncJob over `dir` (created when missing). */
export async function startDevice(name: string, dir: string, opts: DeviceOptions): Promise<Device> {
  const logs: string[] = [];
  const statuses: string[] = [];
  const job = await SyncJob.start({
    dir,
    serverUrl: opts.serverUrl,
    token: opts.token,
    workspaceId: opts.workspaceId,
    watch: opts.watch ?? true,
    onLog: (level, message) => {
      logs.push(`${level} ${message}`);
      if (logs.length > 2000) logs.splice(0, 1000);
    },
    onStatus: (status, detail) => statuses.push(detail ? `${status}: ${detail}` : status),
  });
  // The folder events the plugin gets go to the log too (failure reports show them).
  const plugin = job.host.plugin;
  const event = plugin.event.bind(plugin);
  plugin.event = (type, payload) => {
    logs.push(`event ${type} ${JSON.stringify(payload)}`);
    return event(type, payload);
  };
  return { name, dir, job, logs, statuses };
}

/** Stops a device gracefully (state saved, socket closed); errors ignored. */
export async function stopDevice(device: Device): Promise<void> {
  await device.job.stop().catch(() => undefined);
}

/**
 * Stops a device abruptly: the socket and watcher go away and the plugin
 * instance is released without `shutdown` (nothing is saved at the end).
 */
export async function crashDevice(device: Device): Promise<void> {
  const host = device.job.host;
  await host.watcher?.close();
  await host.bridge?.close();
  await host.plugin.dispose();
}

/**
 * Waits until a device's watcher has seen the folder as it is now (every
 * listed path at its current content, or gone) and delivered the events to
 * the plugin.
 */
export async function waitLocalSeen(device: Device, rels: string[]): Promise<void> {
  const watcher = device.job.host.watcher;
  if (!watcher) throw new Error(`${device.name} has no folder watcher`);
  await waitFor(
    () =>
      !watcher.busy() &&
      rels.every((rel) => {
        const text = readFile(device.dir, rel);
        return text === null ? !watcher.known.has(rel) : watcher.known.get(rel) === sha256Hex(Buffer.from(text));
      }),
    `${device.name} to see ${rels.join(', ')}`,
  );
  await watcher.delivered();
  await device.job.host.plugin.callRaw('get_config', '');
}

// ---- entry files ----------------------------------------------------------------

/** RFC 3339 with milliseconds and `+00:00`, as the plugin writes `updated`. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

export interface EntrySpec {
  title?: string;
  partOf?: string;
  contents?: string[];
  description?: string;
  updated?: number;
  /** Extra keys, written sorted, values already in YAML form. */
  extra?: Record<string, string>;
  body: string;
}

let clock = Date.UTC(2026, 0, 1, 9, 0, 0);
/** A fresh `updated` time (strictly increasing). */
export function nextTime(): number {
  clock = Math.max(clock + 1000, Date.now());
  return clock;
}

/** The text of an entry in the plugin's front matter format. */
export function entryText(spec: EntrySpec): string {
  const lines: string[] = [];
  const q = (s: string) => (/[:#[\]{}|>&*!?'"%@`]/.test(s) ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : s);
  if (spec.title !== undefined) lines.push(`title: ${q(spec.title)}`);
  if (spec.partOf !== undefined) lines.push(`part_of: ${q(spec.partOf)}`);
  if (spec.contents !== undefined && spec.contents.length === 0) lines.push('contents: []');
  else if (spec.contents !== undefined) {
    lines.push('contents:');
    for (const c of spec.contents) lines.push(`  - ${q(c)}`);
  }
  if (spec.description !== undefined) lines.push(`description: ${q(spec.description)}`);
  lines.push(`updated: "${rfc3339(spec.updated ?? nextTime())}"`);
  for (const k of Object.keys(spec.extra ?? {}).sort()) lines.push(`${k}: ${spec.extra![k]}`);
  return `---\n${lines.join('\n')}\n---\n${spec.body}`;
}

/** Writes a file (creating folders) the way an editor saves it. */
export function writeFile(dir: string, rel: string, text: string): void {
  const file = path.join(dir, ...rel.split('/'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

export function readFile(dir: string, rel: string): string | null {
  try {
    return fs.readFileSync(path.join(dir, ...rel.split('/')), 'utf8');
  } catch {
    return null;
  }
}

/** Every file under `dir` (the `.diaryx` folder skipped), path -> content. */
export function folderSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (rel === '' && entry.name === '.diaryx') continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else out[child] = fs.readFileSync(path.join(dir, child), 'utf8');
    }
  };
  walk('');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function describeDifference(a: Record<string, string>, b: Record<string, string>): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const diffs: string[] = [];
  for (const k of keys) {
    if (a[k] === b[k]) continue;
    diffs.push(`${k}: ${JSON.stringify(a[k] ?? null)} vs ${JSON.stringify(b[k] ?? null)}`);
  }
  return diffs.join('\n');
}

/** Waits until every device's folder equals `expected` (or the first device's folder), byte for byte. */
export async function waitForSameFolders(devices: Device[], expected?: Record<string, string>, timeout = 30_000): Promise<Record<string, string>> {
  let last = '';
  try {
    return await waitFor(
      () => {
        const want = expected ?? folderSnapshot(devices[0].dir);
        const problems: string[] = [];
        for (const d of devices) {
          const diff = describeDifference(want, folderSnapshot(d.dir));
          if (diff) problems.push(`${d.name}:\n${diff}`);
        }
        last = problems.join('\n');
        return problems.length === 0 ? want : null;
      },
      'folders to match',
      timeout,
    );
  } catch (e) {
    const logs = devices.map((d) => `${d.name} log:\n${d.logs.filter((l) => !l.startsWith('debug')).slice(-15).join('\n')}`);
    throw new Error(`${(e as Error).message}\n${last}\n${logs.join('\n')}`);
  }
}

// ---- suite set-up -----------------------------------------------------------

export interface E2eSuite {
  readonly server: ServerProcess;
  readonly dataDir: string;
  /** The token of a user named in `e2eSuite` (the first one when not given). */
  token(user?: string): string;
  /** Starts a device on this suite's server (stopped after each test), over `dir` or a new temp folder. */
  device(name: string, workspaceId: string, opts?: { dir?: string; user?: string }): Promise<Device>;
  /** Takes a device the test stopped or crashed itself off the list stopped after the test. */
  untrack(device: Device): void;
  /** Starts the server again on the same data dir and port, after the test stopped or killed it. */
  restartServer(): Promise<ServerProcess>;
}

/**
 * Registers the hooks most end-to-end suites share: one server process for the
 * file with a token per user, devices stopped after every test, the server
 * stopped and the temp folders removed at the end.
 */
export function e2eSuite(users: string[] = ['alice'], serverArgs: string[] = []): E2eSuite {
  let server: ServerProcess | undefined;
  let dataDir = '';
  const tokens = new Map<string, string>();
  const devices: Device[] = [];
  beforeAll(async () => {
    dataDir = tempDir('server');
    for (const user of users) tokens.set(user, await createToken(dataDir, user));
    server = await startServerProcess(dataDir, { args: serverArgs });
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map(stopDevice));
  });
  afterAll(async () => {
    await server?.stop();
    cleanupTemp();
  });
  const suite: E2eSuite = {
    get server(): ServerProcess {
      if (!server) throw new Error('the e2e server is not running (used outside a test?)');
      return server;
    },
    get dataDir() {
      return dataDir;
    },
    token(user = users[0]) {
      const token = tokens.get(user);
      if (!token) throw new Error(`no token for user ${user} (users: ${users.join(', ')})`);
      return token;
    },
    async device(name, workspaceId, opts = {}) {
      const d = await startDevice(name, opts.dir ?? tempDir(name), { serverUrl: suite.server.url, token: suite.token(opts.user), workspaceId });
      devices.push(d);
      return d;
    },
    untrack(device) {
      const i = devices.indexOf(device);
      if (i >= 0) devices.splice(i, 1);
    },
    async restartServer() {
      server = await startServerProcess(dataDir, { port: suite.server.port });
      return server;
    },
  };
  return suite;
}

/**
 * Server configuration: a typed default object, overridden by environment
 * variables, overridden by explicit options (`resolveOptions`).
 *
 * | option            | env var                        | default                 |
 * |-------------------|--------------------------------|-------------------------|
 * | host              | DIARYX_SYNC_HOST               | 127.0.0.1               |
 * | port              | DIARYX_SYNC_PORT               | 3030 (0 = pick a free one) |
 * | dataDir           | DIARYX_SYNC_DATA_DIR           | ./diaryx-server-data    |
 * | allowUsers        | DIARYX_SYNC_ALLOW_USERS (a,b)  | [] (every token holder) |
 * | createWorkspaces  | DIARYX_SYNC_CREATE_WORKSPACES  | true                    |
 * | corsOrigins       | DIARYX_SYNC_CORS_ORIGINS (a,b) | [] (same origin only)   |
 *
 * The numeric limits are listed once in LIMIT_OPTIONS (flag, env var, meaning),
 * which the CLI and the README follow.
 */
import { ValidationError } from './errors';
import { LOG_LEVELS, type Logger, type LogLevel } from './log';
import type { StorageAdapter } from './storage/adapter';

/** Everything the server can be configured with. */
export interface ServerOptions {
  /** Interface to listen on. */
  host: string;
  /** TCP port; 0 picks a free port. */
  port: number;
  /** Directory holding the SQLite database; `:memory:` keeps everything in memory. */
  dataDir: string;
  /**
   * `postgres://...`: keep everything in this Postgres database instead of
   * SQLite; any number of server processes on one database act as one server.
   */
  databaseUrl: string | null;
  /** Postgres only: how often a node compares stored heads with what it holds (lost wake-ups). */
  sweepIntervalMs: number;
  /** Users allowed to use the server; empty allows every user with a valid token. */
  allowUsers: string[];
  /** Whether the first user to open an unknown workspace id becomes its owner. */
  createWorkspaces: boolean;
  /**
   * Origins (`https://app.example`) whose browser requests get CORS answers with
   * credentials; `*` allows any origin. Same-origin requests need no entry.
   */
  corsOrigins: string[];
  /** Largest WebSocket message accepted; a bigger one closes that socket with 1009. */
  maxMessageBytes: number;
  /** Open WebSockets per user (per remote address for sockets without a valid token). */
  maxConnectionsPerUser: number;
  /** Largest snapshot zip accepted by `POST /api/workspaces/{id}/snapshot`. */
  snapshotUploadMaxBytes: number;
  /** Markdown entries in one snapshot zip. */
  maxSnapshotEntries: number;
  /** Uncompressed bytes of the markdown entries of one snapshot zip. */
  maxSnapshotUnzippedBytes: number;
  /** Uncompressed bytes of one markdown entry of a snapshot zip (decoding and parsing it runs in one go). */
  maxSnapshotFileBytes: number;
  /** Snapshot uploads handled at the same time, server-wide (more get 503). */
  maxConcurrentUploads: number;
  /** Workspaces one user may own; creation on first use and `POST /api/workspaces` stop there. */
  maxWorkspacesPerUser: number;
  /** Size of one document (stored base + logged updates); updates beyond it are refused. */
  maxDocBytes: number;
  /** Documents one socket may have open. */
  maxDocsPerConnection: number;
  /** Documents one user may have open over all their sockets. */
  maxDocsPerUser: number;
  /** Bytes of updates a document holds waiting for missing ones; an update beyond it is refused. */
  maxPendingBytesPerDoc: number;
  /** Deleted ranges of items a document does not hold that one update may name; more and it is refused. */
  maxUnknownDeleteRanges: number;
  /** How long a socket without a valid token may stay open without sending anything. */
  unauthenticatedTimeoutMs: number;
  /** Frames (binary and text) handled per second per socket; faster senders are slowed down. */
  maxFramesPerSecond: number;
  /** A socket gives the event loop a turn after this many messages. */
  yieldEveryMessages: number;
  /** Unsent output of one socket before it is closed (4008). */
  maxBufferedBytesPerConnection: number;
  /** Unsent output of all sockets together; over it the socket with the most is closed (4008). */
  maxBufferedOutputBytes: number;
  /** How often open sockets' tokens are checked again (a revoked token's sockets are closed). */
  tokenCheckIntervalMs: number;
  /** Attachment bytes one user's workspaces may hold, in MiB (413 past it). */
  attachmentQuotaMb: number;
  /** Days a blob no entry references any more is kept before it is removed. */
  attachmentGraceDays: number;
  /** How often unreferenced attachments are looked for. */
  attachmentGcIntervalMs: number;
  /** How long a document without clients stays in memory. */
  unloadDelayMs: number;
  /** Compact a document's update log into its base snapshot after this many updates... */
  compactAfterUpdates: number;
  /** ...or after this many logged bytes, whichever comes first. */
  compactAfterBytes: number;
  /** Minimum level written by the default logger. */
  logLevel: LogLevel;
  /** Replaces the default stderr logger. */
  logger: Logger | null;
  /** Document storage; null means SqliteStorage on the data directory's database. */
  storage: StorageAdapter | null;
  /**
   * Process-wide handlers (the CLI turns this on): close gracefully on
   * SIGINT/SIGTERM, and log an uncaught exception or unhandled rejection
   * instead of exiting.
   */
  handleSignals: boolean;
}

/** The defaults, before environment variables. */
export const DEFAULT_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 3030,
  dataDir: './diaryx-server-data',
  databaseUrl: null,
  sweepIntervalMs: 30_000,
  allowUsers: [],
  createWorkspaces: true,
  corsOrigins: [],
  maxMessageBytes: 16 * 1024 * 1024,
  maxConnectionsPerUser: 32,
  snapshotUploadMaxBytes: 256 * 1024 * 1024,
  maxSnapshotEntries: 20_000,
  maxSnapshotUnzippedBytes: 64 * 1024 * 1024,
  maxSnapshotFileBytes: 4 * 1024 * 1024,
  maxConcurrentUploads: 2,
  maxWorkspacesPerUser: 100,
  maxDocBytes: 32 * 1024 * 1024,
  maxDocsPerConnection: 16_384,
  maxDocsPerUser: 32_768,
  maxPendingBytesPerDoc: 2 * 1024 * 1024,
  maxUnknownDeleteRanges: 10_000,
  unauthenticatedTimeoutMs: 10_000,
  maxFramesPerSecond: 5_000,
  yieldEveryMessages: 32,
  maxBufferedBytesPerConnection: 64 * 1024 * 1024,
  maxBufferedOutputBytes: 512 * 1024 * 1024,
  tokenCheckIntervalMs: 2_000,
  attachmentQuotaMb: 1024,
  attachmentGraceDays: 7,
  attachmentGcIntervalMs: 60 * 60 * 1000,
  unloadDelayMs: 10_000,
  compactAfterUpdates: 500,
  compactAfterBytes: 4 * 1024 * 1024,
  logLevel: 'info',
  logger: null,
  storage: null,
  handleSignals: false,
});

/** Environment variable names. */
export const ENV = {
  host: 'DIARYX_SYNC_HOST',
  port: 'DIARYX_SYNC_PORT',
  dataDir: 'DIARYX_SYNC_DATA_DIR',
  databaseUrl: 'DIARYX_SYNC_DATABASE_URL',
  allowUsers: 'DIARYX_SYNC_ALLOW_USERS',
  createWorkspaces: 'DIARYX_SYNC_CREATE_WORKSPACES',
  corsOrigins: 'DIARYX_SYNC_CORS_ORIGINS',
} as const;

/** The numeric options an operator sets with a flag or an environment variable. */
export type LimitOption =
  | 'maxMessageBytes'
  | 'maxConnectionsPerUser'
  | 'snapshotUploadMaxBytes'
  | 'maxSnapshotEntries'
  | 'maxSnapshotUnzippedBytes'
  | 'maxSnapshotFileBytes'
  | 'maxConcurrentUploads'
  | 'maxWorkspacesPerUser'
  | 'maxDocBytes'
  | 'maxDocsPerConnection'
  | 'maxDocsPerUser'
  | 'maxPendingBytesPerDoc'
  | 'maxUnknownDeleteRanges'
  | 'unauthenticatedTimeoutMs'
  | 'maxFramesPerSecond'
  | 'yieldEveryMessages'
  | 'maxBufferedBytesPerConnection'
  | 'maxBufferedOutputBytes'
  | 'tokenCheckIntervalMs'
  | 'attachmentQuotaMb'
  | 'attachmentGraceDays';

/** One numeric option: its flag, its environment variable and what it limits. */
export interface LimitOptionSpec {
  key: LimitOption;
  flag: string;
  env: string;
  description: string;
}

/** Every numeric option, in README order. Values are positive integers. */
export const LIMIT_OPTIONS: readonly LimitOptionSpec[] = [
  ['maxMessageBytes', 'largest WebSocket message; a bigger one closes that socket (1009)'],
  ['maxConnectionsPerUser', 'open WebSockets per user (per address without a valid token); more get 429'],
  ['maxFramesPerSecond', 'frames handled per second per socket; a faster sender is slowed down'],
  ['yieldEveryMessages', 'a socket lets other work run after this many messages'],
  ['maxBufferedBytesPerConnection', 'unsent output of one socket before it is closed (4008)'],
  ['maxBufferedOutputBytes', 'unsent output of all sockets together; over it the largest is closed (4008)'],
  ['maxDocBytes', 'size of one document (stored state + update log); bigger updates are refused'],
  ['maxDocsPerConnection', 'documents open on one socket'],
  ['maxDocsPerUser', 'documents open by one user over all sockets'],
  ['maxPendingBytesPerDoc', 'bytes of updates waiting for missing ones, per document'],
  ['maxUnknownDeleteRanges', 'deleted ranges of items a document does not hold, per update'],
  ['maxWorkspacesPerUser', 'workspaces one user may own (created on first use or by POST)'],
  ['snapshotUploadMaxBytes', 'size of an uploaded snapshot zip (413 above)'],
  ['maxSnapshotEntries', 'markdown entries in one snapshot zip'],
  ['maxSnapshotUnzippedBytes', 'uncompressed markdown in one snapshot zip'],
  ['maxSnapshotFileBytes', 'uncompressed size of one markdown file in a snapshot zip'],
  ['maxConcurrentUploads', 'snapshot uploads handled at once, server-wide (503 above)'],
  ['tokenCheckIntervalMs', 'how often open sockets re-check their token (revoked -> closed)'],
  ['unauthenticatedTimeoutMs', 'how long a socket without a valid token may stay open silent'],
  ['attachmentQuotaMb', 'attachment storage per user, in MiB (413 past it)'],
  ['attachmentGraceDays', 'days a blob no entry references any more is kept before removal'],
].map(([key, description]) => {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
  const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return { key: key as LimitOption, flag: `--${kebab}`, env: `DIARYX_SYNC_${snake}`, description };
});

/** Parses a positive integer option value. */
export function parsePositiveInt(text: string, source: string): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new ValidationError(`${source}: expected a positive integer, got "${text}"`);
  }
  return n;
}

/** Parses a comma-separated origin list (`https://a.example,http://localhost:5173`, or `*`). */
export function parseOriginList(text: string, source: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    if (raw === '*') {
      out.push(raw);
      continue;
    }
    let origin: string;
    try {
      origin = new URL(raw).origin;
    } catch {
      origin = 'null';
    }
    if (origin === 'null' || origin !== raw.replace(/\/$/, '').toLowerCase()) {
      throw new ValidationError(`${source}: "${raw}" is not an origin (scheme://host[:port], or *)`);
    }
    out.push(origin);
  }
  return out;
}

/** Parses a port number (0-65535). */
export function parsePort(text: string, source: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ValidationError(`${source}: invalid port "${text}" (expected 0-65535)`);
  }
  return n;
}

/** Checks a `postgres://` or `postgresql://` URL. */
export function parseDatabaseUrl(text: string, source: string): string {
  const t = text.trim();
  let ok = false;
  try {
    const u = new URL(t);
    ok = (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
  } catch {
    ok = false;
  }
  if (!ok) throw new ValidationError(`${source}: expected postgres://user:password@host:port/database`);
  return t;
}

/** Parses `true|false|1|0|yes|no`. */
export function parseBoolean(text: string, source: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw new ValidationError(`${source}: expected true or false, got "${text}"`);
}

/** Parses a comma-separated user list; blanks are dropped. */
export function parseUserList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The options the environment sets. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): Partial<ServerOptions> {
  const out: Partial<ServerOptions> = {};
  const get = (name: string) => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const host = get(ENV.host);
  if (host !== undefined) out.host = host.trim();
  const port = get(ENV.port);
  if (port !== undefined) out.port = parsePort(port, ENV.port);
  const dataDir = get(ENV.dataDir);
  if (dataDir !== undefined) out.dataDir = dataDir;
  const databaseUrl = get(ENV.databaseUrl);
  if (databaseUrl !== undefined) out.databaseUrl = parseDatabaseUrl(databaseUrl, ENV.databaseUrl);
  const allow = get(ENV.allowUsers);
  if (allow !== undefined) out.allowUsers = parseUserList(allow);
  const create = get(ENV.createWorkspaces);
  if (create !== undefined) out.createWorkspaces = parseBoolean(create, ENV.createWorkspaces);
  const cors = get(ENV.corsOrigins);
  if (cors !== undefined) out.corsOrigins = parseOriginList(cors, ENV.corsOrigins);
  for (const spec of LIMIT_OPTIONS) {
    const v = get(spec.env);
    if (v !== undefined) out[spec.key] = parsePositiveInt(v, spec.env);
  }
  return out;
}

/** Defaults, then environment, then `options` (undefined values in `options` are ignored). */
export function resolveOptions(options: Partial<ServerOptions> = {}, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  const explicit = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<ServerOptions>;
  const merged: ServerOptions = { ...DEFAULT_OPTIONS, allowUsers: [], corsOrigins: [], ...optionsFromEnv(env), ...explicit };
  if (!Number.isInteger(merged.port) || merged.port < 0 || merged.port > 65535) {
    throw new ValidationError(`Invalid port ${merged.port}`);
  }
  for (const key of [...LIMIT_OPTIONS.map((o) => o.key), 'compactAfterUpdates', 'compactAfterBytes', 'attachmentGcIntervalMs'] as const) {
    if (!Number.isFinite(merged[key]) || merged[key] <= 0) throw new ValidationError(`Option ${key} must be a positive number`);
  }
  if (!Number.isFinite(merged.unloadDelayMs) || merged.unloadDelayMs < 0) throw new ValidationError('Option unloadDelayMs must be >= 0');
  if (!LOG_LEVELS.includes(merged.logLevel)) throw new ValidationError(`Invalid log level ${merged.logLevel}`);
  return merged;
}

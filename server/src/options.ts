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
  /** Users allowed to use the server; empty allows every user with a valid token. */
  allowUsers: string[];
  /** Whether the first user to open an unknown workspace id becomes its owner. */
  createWorkspaces: boolean;
  /** Largest WebSocket message accepted; a bigger one closes that socket with 1009. */
  maxMessageBytes: number;
  /** Open WebSockets per user (per remote address for sockets without a valid token). */
  maxConnectionsPerUser: number;
  /** Largest snapshot zip accepted by `POST /api/workspaces/{id}/snapshot`. */
  snapshotUploadMaxBytes: number;
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
  /** Close gracefully on SIGINT/SIGTERM (the CLI turns this on). */
  handleSignals: boolean;
}

/** The defaults, before environment variables. */
export const DEFAULT_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 3030,
  dataDir: './diaryx-server-data',
  allowUsers: [],
  createWorkspaces: true,
  maxMessageBytes: 16 * 1024 * 1024,
  maxConnectionsPerUser: 32,
  snapshotUploadMaxBytes: 1024 * 1024 * 1024,
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
  allowUsers: 'DIARYX_SYNC_ALLOW_USERS',
  createWorkspaces: 'DIARYX_SYNC_CREATE_WORKSPACES',
} as const;

/** Parses a port number (0-65535). */
export function parsePort(text: string, source: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ValidationError(`${source}: invalid port "${text}" (expected 0-65535)`);
  }
  return n;
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
  const allow = get(ENV.allowUsers);
  if (allow !== undefined) out.allowUsers = parseUserList(allow);
  const create = get(ENV.createWorkspaces);
  if (create !== undefined) out.createWorkspaces = parseBoolean(create, ENV.createWorkspaces);
  return out;
}

/** Defaults, then environment, then `options` (undefined values in `options` are ignored). */
export function resolveOptions(options: Partial<ServerOptions> = {}, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  const explicit = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<ServerOptions>;
  const merged: ServerOptions = { ...DEFAULT_OPTIONS, allowUsers: [], ...optionsFromEnv(env), ...explicit };
  if (!Number.isInteger(merged.port) || merged.port < 0 || merged.port > 65535) {
    throw new ValidationError(`Invalid port ${merged.port}`);
  }
  for (const key of ['maxMessageBytes', 'maxConnectionsPerUser', 'snapshotUploadMaxBytes', 'compactAfterUpdates', 'compactAfterBytes'] as const) {
    if (!Number.isFinite(merged[key]) || merged[key] <= 0) throw new ValidationError(`Option ${key} must be a positive number`);
  }
  if (!Number.isFinite(merged.unloadDelayMs) || merged.unloadDelayMs < 0) throw new ValidationError('Option unloadDelayMs must be >= 0');
  if (!LOG_LEVELS.includes(merged.logLevel)) throw new ValidationError(`Invalid log level ${merged.logLevel}`);
  return merged;
}

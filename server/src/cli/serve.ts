/**
 * `serve`: runs the sync server in the foreground until SIGINT/SIGTERM.
 * Prints `listening on <url>` as one line on stdout once it accepts
 * connections; logs go to stderr. Flags override DIARYX_SYNC_* variables.
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../host-harness/src/cli/errors';
import { ValidationError } from '../errors';
import { startServer } from '../index';
import { LOG_LEVELS, type LogLevel } from '../log';
import { DEFAULT_OPTIONS, parseBoolean, parsePort, parseUserList, type ServerOptions } from '../options';

interface ServeFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  allowUsers?: string;
  createWorkspaces?: string;
  maxMessageBytes?: string;
  maxConnectionsPerUser?: string;
  logLevel?: string;
}

/** Turns the flags into server options (absent flags stay undefined: env and defaults apply). */
export function serveOptions(flags: ServeFlags): Partial<ServerOptions> {
  const out: Partial<ServerOptions> = { handleSignals: true };
  if (flags.host !== undefined) out.host = flags.host;
  if (flags.port !== undefined) out.port = parsePort(flags.port, '--port');
  if (flags.dataDir !== undefined) out.dataDir = flags.dataDir;
  if (flags.allowUsers !== undefined) out.allowUsers = parseUserList(flags.allowUsers);
  if (flags.createWorkspaces !== undefined) out.createWorkspaces = parseBoolean(flags.createWorkspaces, '--create-workspaces');
  if (flags.maxMessageBytes !== undefined) {
    const n = Number(flags.maxMessageBytes);
    if (!Number.isInteger(n) || n <= 0) throw new ValidationError(`--max-message-bytes: expected a positive integer, got "${flags.maxMessageBytes}"`);
    out.maxMessageBytes = n;
  }
  if (flags.maxConnectionsPerUser !== undefined) {
    const n = Number(flags.maxConnectionsPerUser);
    if (!Number.isInteger(n) || n <= 0) throw new ValidationError(`--max-connections-per-user: expected a positive integer, got "${flags.maxConnectionsPerUser}"`);
    out.maxConnectionsPerUser = n;
  }
  if (flags.logLevel !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) {
      throw new ValidationError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
    }
    out.logLevel = flags.logLevel as LogLevel;
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('Run the Diaryx sync server (WebSocket /sync2 and the HTTP API) until SIGINT/SIGTERM')
    .option('--host <host>', `interface to listen on (default ${DEFAULT_OPTIONS.host}, env DIARYX_SYNC_HOST)`)
    .option('--port <port>', `TCP port, 0 picks a free one (default ${DEFAULT_OPTIONS.port}, env DIARYX_SYNC_PORT)`)
    .option('--data-dir <dir>', `directory of the SQLite database (default ${DEFAULT_OPTIONS.dataDir}, env DIARYX_SYNC_DATA_DIR)`)
    .option('--allow-users <users>', 'comma-separated users allowed to connect (default: every token holder, env DIARYX_SYNC_ALLOW_USERS)')
    .option('--create-workspaces <bool>', 'let the first user of an unknown workspace id own it: true|false (default true, env DIARYX_SYNC_CREATE_WORKSPACES)')
    .option('--max-message-bytes <n>', `largest WebSocket message (default ${DEFAULT_OPTIONS.maxMessageBytes})`)
    .option('--max-connections-per-user <n>', `simultaneous WebSockets per user (default ${DEFAULT_OPTIONS.maxConnectionsPerUser})`)
    .option('--log-level <level>', `${LOG_LEVELS.join('|')} (default ${DEFAULT_OPTIONS.logLevel})`)
    .action(async (flags: ServeFlags) => {
      let server;
      try {
        server = await startServer(serveOptions(flags));
      } catch (e) {
        if (e instanceof ValidationError) throw new ActionableError(e.message);
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new ActionableError(`${(e as Error).message}: choose another --port (or --port 0)`);
        }
        throw e;
      }
      process.stdout.write(`listening on ${server.url}\n`);
      await server.closed;
    });
}

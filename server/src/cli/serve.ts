/**
 * `serve`: runs the sync server in the foreground until SIGINT/SIGTERM.
 * Prints `listening on <url>` as one line on stdout once it accepts
 * connections; logs go to stderr. Flags override DIARYX_SYNC_* variables.
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../common/src/cli/errors';
import { StorageError, ValidationError } from '../errors';
import { startServer } from '../index';
import { LOG_LEVELS, type LogLevel } from '../log';
import {
  DEFAULT_OPTIONS,
  LIMIT_OPTIONS,
  parseBoolean,
  parseDatabaseUrl,
  parseOriginList,
  parsePort,
  parsePositiveInt,
  parseUserList,
  type LimitOption,
  type ServerOptions,
} from '../options';

type ServeFlags = {
  host?: string;
  port?: string;
  dataDir?: string;
  database?: string;
  allowUsers?: string;
  createWorkspaces?: string;
  corsOrigins?: string;
  logLevel?: string;
} & { [K in LimitOption]?: string };

/** Turns the flags into server options (absent flags stay undefined: env and defaults apply). */
export function serveOptions(flags: ServeFlags): Partial<ServerOptions> {
  const out: Partial<ServerOptions> = { handleSignals: true };
  if (flags.host !== undefined) out.host = flags.host;
  if (flags.port !== undefined) out.port = parsePort(flags.port, '--port');
  if (flags.dataDir !== undefined) out.dataDir = flags.dataDir;
  if (flags.database !== undefined) out.databaseUrl = parseDatabaseUrl(flags.database, '--database');
  if (flags.allowUsers !== undefined) out.allowUsers = parseUserList(flags.allowUsers);
  if (flags.createWorkspaces !== undefined) out.createWorkspaces = parseBoolean(flags.createWorkspaces, '--create-workspaces');
  if (flags.corsOrigins !== undefined) out.corsOrigins = parseOriginList(flags.corsOrigins, '--cors-origins');
  for (const spec of LIMIT_OPTIONS) {
    const v = flags[spec.key];
    if (v !== undefined) out[spec.key] = parsePositiveInt(v, spec.flag);
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
  const serve = program
    .command('serve')
    .description('Run the Diaryx sync server (WebSocket /sync2 and the HTTP API) until SIGINT/SIGTERM')
    .option('--host <host>', `interface to listen on (default ${DEFAULT_OPTIONS.host}, env DIARYX_SYNC_HOST)`)
    .option('--port <port>', `TCP port, 0 picks a free one (default ${DEFAULT_OPTIONS.port}, env DIARYX_SYNC_PORT)`)
    .option('--data-dir <dir>', `directory of the SQLite database (default ${DEFAULT_OPTIONS.dataDir}, env DIARYX_SYNC_DATA_DIR)`)
    .option('--database <url>', 'keep everything in this Postgres database (postgres://user:pass@host:port/db) instead of SQLite; several serve processes may share it (env DIARYX_SYNC_DATABASE_URL)')
    .option('--allow-users <users>', 'comma-separated users allowed to connect (default: every token holder, env DIARYX_SYNC_ALLOW_USERS)')
    .option('--create-workspaces <bool>', 'let the first user of an unknown workspace id own it: true|false (default true, env DIARYX_SYNC_CREATE_WORKSPACES)')
    .option('--cors-origins <origins>', 'comma-separated browser origins allowed to call the HTTP API with credentials, or * (default: same origin only, env DIARYX_SYNC_CORS_ORIGINS)')
    .option('--log-level <level>', `${LOG_LEVELS.join('|')} (default ${DEFAULT_OPTIONS.logLevel})`);
  for (const spec of LIMIT_OPTIONS) {
    serve.option(`${spec.flag} <n>`, `${spec.description} (default ${DEFAULT_OPTIONS[spec.key]}, env ${spec.env})`);
  }
  serve.action(async (flags: ServeFlags) => {
      let server;
      try {
        server = await startServer(serveOptions(flags));
      } catch (e) {
        if (e instanceof ValidationError || e instanceof StorageError) throw new ActionableError(e.message);
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new ActionableError(`${(e as Error).message}: choose another --port (or --port 0)`);
        }
        throw e;
      }
      process.stdout.write(`listening on ${server.url}\n`);
      await server.closed;
    });
}

/**
 * `token create --user NAME`: issues an access token for the sync server.
 * The server stores only its SHA-256; the token is printed once, as the last
 * line on stdout. `token list --user NAME` shows the ids of a user's tokens,
 * `token revoke ID` deletes one (a running server closes its sockets within
 * `tokenCheckIntervalMs`). All work while the server runs (same database, WAL).
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../common/src/cli/errors';
import { hashToken } from '../auth';
import { ValidationError } from '../errors';
import type { AccessStore } from '../auth';
import { createToken, withAuthStore, withPgAuthStore } from '../index';
import { DEFAULT_OPTIONS, ENV, optionsFromEnv, parseDatabaseUrl } from '../options';

const dataDirOption = `server data directory (default ${DEFAULT_OPTIONS.dataDir}, env DIARYX_SYNC_DATA_DIR)`;

const databaseOption = `Postgres database of the server (postgres://...; env ${ENV.databaseUrl}); instead of --data-dir`;

function resolveDataDir(flag: string | undefined): string {
  return flag ?? optionsFromEnv(process.env).dataDir ?? DEFAULT_OPTIONS.dataDir;
}

/** The Postgres URL from --database or the environment, or null for SQLite. */
function resolveDatabase(flags: { database?: string; dataDir?: string }): string | null {
  if (flags.database !== undefined) return actionable(() => parseDatabaseUrl(flags.database!, '--database'));
  if (flags.dataDir !== undefined) return null;
  return actionable(() => optionsFromEnv(process.env).databaseUrl) ?? null;
}

/** Runs `fn` on the server's auth store: Postgres when a database is given, else the data directory's SQLite. */
async function onStore<T>(flags: { database?: string; dataDir?: string }, fn: (auth: AccessStore) => T | Promise<T>): Promise<T> {
  const url = resolveDatabase(flags);
  try {
    if (url !== null) return await withPgAuthStore(url, async (auth) => fn(auth));
    const dir = resolveDataDir(flags.dataDir);
    return await withAuthStore(dir, (auth) => fn(auth));
  } catch (e) {
    if (e instanceof ValidationError) throw new ActionableError(e.message);
    throw e;
  }
}

/** Runs a token action; a ValidationError becomes a readable message and exit code 2. */
function actionable<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ValidationError) throw new ActionableError(e.message);
    throw e;
  }
}

export function register(program: Command): void {
  const token = program.command('token').description('Manage access tokens of the sync server');
  token
    .command('list')
    .description("List a user's tokens: id and creation time (the tokens themselves are never stored)")
    .requiredOption('--user <name>', 'user whose tokens to list')
    .option('--data-dir <dir>', dataDirOption)
    .option('--database <url>', databaseOption)
    .action(async (flags: { user: string; dataDir?: string; database?: string }) => {
      const tokens = await onStore(flags, (auth) => auth.listTokens(flags.user));
      if (tokens.length === 0) {
        process.stdout.write(`No tokens for user "${flags.user}"\n`);
        return;
      }
      for (const t of tokens) process.stdout.write(`${t.id}  ${new Date(t.createdAt).toISOString()}\n`);
    });
  token
    .command('revoke')
    .description('Revoke a token by its id (from token list); a running server closes its connections')
    .argument('<id>', 'token id (16 hex digits)')
    .option('--data-dir <dir>', dataDirOption)
    .option('--database <url>', databaseOption)
    .action(async (id: string, flags: { dataDir?: string; database?: string }) => {
      const revoked = await onStore(flags, (auth) => auth.revokeToken(id));
      process.stdout.write(`Revoked token ${revoked.id} of user "${revoked.user}"\n`);
    });
  token
    .command('create')
    .description('Create a user (if needed) and print a new access token for it')
    .requiredOption('--user <name>', 'user the token belongs to')
    .option('--data-dir <dir>', dataDirOption)
    .option('--database <url>', databaseOption)
    .action(async (flags: { user: string; dataDir?: string; database?: string }) => {
      const url = resolveDatabase(flags);
      const value =
        url === null ? actionable(() => createToken(resolveDataDir(flags.dataDir), flags.user)) : await onStore(flags, (auth) => auth.createToken(flags.user));
      const id = hashToken(value).slice(0, 16);
      process.stdout.write(`Token ${id} for user "${flags.user}" (shown once; the server keeps only its hash):\n${value}\n`);
    });
}

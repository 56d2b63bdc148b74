/**
 * `token create --user NAME`: issues an access token for the sync server.
 * The server stores only its SHA-256; the token is printed once, as the last
 * line on stdout. Works while the server runs (same database, WAL).
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../host-harness/src/cli/errors';
import { ValidationError } from '../errors';
import { createToken } from '../index';
import { DEFAULT_OPTIONS, optionsFromEnv } from '../options';

export function register(program: Command): void {
  const token = program.command('token').description('Manage access tokens of the sync server');
  token
    .command('create')
    .description('Create a user (if needed) and print a new access token for it')
    .requiredOption('--user <name>', 'user the token belongs to')
    .option('--data-dir <dir>', `server data directory (default ${DEFAULT_OPTIONS.dataDir}, env DIARYX_SYNC_DATA_DIR)`)
    .action((flags: { user: string; dataDir?: string }) => {
      const dataDir = flags.dataDir ?? optionsFromEnv(process.env).dataDir ?? DEFAULT_OPTIONS.dataDir;
      let value: string;
      try {
        value = createToken(dataDir, flags.user);
      } catch (e) {
        if (e instanceof ValidationError) throw new ActionableError(e.message);
        throw e;
      }
      process.stdout.write(`Token for user "${flags.user}" (shown once; the server keeps only its hash):\n${value}\n`);
    });
}

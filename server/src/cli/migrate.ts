/**
 * `migrate --from <sqlite data dir> --to postgres://...`: moves a single-node
 * server's data into Postgres and checks every document's state afterwards
 * (server/src/migrate.ts). Stop the old server first.
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../common/src/cli/errors';
import { StorageError, ValidationError } from '../errors';
import { migrateSqliteToPostgres } from '../migrate';
import { parseDatabaseUrl } from '../options';

export function register(program: Command): void {
  program
    .command('migrate')
    .description("Move a SQLite server's users, tokens, workspaces, documents and attachment records into Postgres, checking them afterwards")
    .requiredOption('--from <dir>', 'data directory of the SQLite server (stop that server first)')
    .requiredOption('--to <url>', 'Postgres database (postgres://user:password@host:port/database)')
    .option('--replace', 'empty a Postgres database that already holds data first')
    .action(async (flags: { from: string; to: string; replace?: boolean }) => {
      try {
        const url = parseDatabaseUrl(flags.to, '--to');
        const r = await migrateSqliteToPostgres(flags.from, url, { replace: flags.replace === true, log: (line) => process.stderr.write(`${line}\n`) });
        process.stdout.write(`migrated ${r.users} users, ${r.tokens} tokens, ${r.workspaces} workspaces, ${r.documents} documents, ` +
            `${r.attachments} attachment records and ${r.uploads} uploads in progress; all documents and attachment records checked equal\n`);
      } catch (e) {
        if (e instanceof ValidationError || e instanceof StorageError) throw new ActionableError(e.message);
        throw e;
      }
    });
}

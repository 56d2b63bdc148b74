/**
 * Standalone entry of the sync server:
 *   node --import tsx server/src/main.ts serve [--port 3030] ...
 *   node --import tsx server/src/main.ts token create --user NAME
 */
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { runProgram } from '../../common/src/cli/errors';
import { register as registerServe } from './cli/serve';
import { register as registerToken } from './cli/token';
import { register as registerMigrate } from './cli/migrate';

/** Runs the server CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('diaryx-sync-server').description('Diaryx sync server').exitOverride().showHelpAfterError();
  registerServe(program);
  registerToken(program);
  registerMigrate(program);
  return runProgram(program, argv);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv);
}

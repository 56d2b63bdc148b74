/**
 * The `diaryx-sync` command line. Each subcommand lives in its own file and
 * exports `register(program)`; this file only assembles them.
 */
import './quiet-warnings';
import { Command } from 'commander';
import { runProgram } from './errors';

type Register = (program: Command) => void;

async function loadCommands(): Promise<Register[]> {
  const modules = await Promise.all([
    // plugin host commands
    import('./commands/manifest'),
    import('./commands/call'),
    import('./commands/command'),
    import('./commands/event'),
    import('./commands/files'),
    import('./commands/body'),
    import('./commands/history'),
    import('./commands/sync'),
    import('./commands/web'),
    // server commands
    import('../../../server/src/cli/serve'),
    import('../../../server/src/cli/token'),
  ]);
  return modules.map((m) => m.register);
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('diaryx-sync')
    .description('Diaryx workspace sync: plugin host, sync server and tools')
    .exitOverride()
    .showHelpAfterError();
  for (const register of await loadCommands()) register(program);
  return runProgram(program, argv);
}

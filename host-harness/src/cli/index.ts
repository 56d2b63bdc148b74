/**
 * The `diaryx-sync` command line. Each subcommand lives in its own file and
 * exports `register(program)`; this file only assembles them.
 */
import './quiet-warnings';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ActionableError, runProgram } from '../../../common/src/cli/errors';

// Not imported from local-server.ts: modules that load node:wasi must come
// after quiet-warnings (a static import would load it before).
const DEFAULT_LOCAL_DATA_DIR = path.join(os.homedir(), '.diaryx-sync', 'server');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

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
    import('../../../server/src/cli/migrate'),
  ]);
  return modules.map((m) => m.register);
}

const EXAMPLES = `Examples:
  diaryx-sync sync --dir ~/journal                 sync with a local server on this machine (started when needed)
  diaryx-sync sync --dir ../laptop                 a second device: the same command with another folder
  DIARYX_SYNC_TOKEN=... diaryx-sync sync --dir ~/journal --server https://sync.example.org --workspace-id my-journal
  diaryx-sync sync --dir ~/journal --once          sync once and exit (0 = the folder and the server match)
  diaryx-sync token create --user alice            a token for a server (data in ${DEFAULT_LOCAL_DATA_DIR})
  diaryx-sync serve --host 0.0.0.0 --port 3030     run the sync server for other machines
  diaryx-sync files --dir ~/journal                what the workspace holds

`;

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * `serve` and `token create` use the data folder of the embedded local server
 * unless told otherwise, so a token created without `--data-dir` works with
 * the server `sync` starts (one default for every command).
 */
function defaultDataFolder(program: Command): void {
  process.env.DIARYX_SYNC_DATA_DIR ??= DEFAULT_LOCAL_DATA_DIR;
  const serve = program.commands.find((c) => c.name() === 'serve');
  const create = program.commands.find((c) => c.name() === 'token')?.commands.find((c) => c.name() === 'create');
  for (const cmd of [serve, create]) {
    const option = cmd?.options.find((o) => o.long === '--data-dir');
    if (option) option.description = `server data folder (default ${DEFAULT_LOCAL_DATA_DIR}, env DIARYX_SYNC_DATA_DIR)`;
  }
}

/**
 * A `--data-dir` that is a file is refused; one that does not exist yet is
 * announced before it is created (a mistyped path would otherwise start an
 * empty server without a word).
 */
function checkDataFolder(program: Command): void {
  program.hook('preAction', (_root, action) => {
    const given = (action.opts() as { dataDir?: unknown }).dataDir;
    if (!action.options.some((o) => o.long === '--data-dir')) return;
    if (action.name() === 'sync') return; // checked when (and if) it starts the local server
    const raw = typeof given === 'string' ? given : (process.env.DIARYX_SYNC_DATA_DIR ?? DEFAULT_LOCAL_DATA_DIR);
    if (raw === ':memory:') return;
    const dir = path.resolve(raw);
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(dir);
    } catch {
      stat = null;
    }
    if (stat && !stat.isDirectory()) throw new ActionableError(`--data-dir ${dir} is a file, not a folder`);
    if (!stat) process.stderr.write(`creating the server data folder ${dir} (new and empty)\n`);
  });
}

/** Output piped into a command that stops reading (`| head`) ends the run quietly. */
let pipeHandled = false;
function quietOnClosedPipe(): void {
  if (pipeHandled) return;
  pipeHandled = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const program = new Command('diaryx-sync')
    .description('Diaryx workspace sync: keeps a folder of Markdown entries in sync across devices; also the sync server and inspection tools')
    .version(packageVersion(), '-V, --version', 'print the version')
    .addHelpText('before', EXAMPLES)
    .exitOverride()
    .showHelpAfterError();
  for (const register of await loadCommands()) register(program);
  defaultDataFolder(program);
  checkDataFolder(program);
  return runProgram(program, argv);
}

/**
 * What the plugin subcommands share: the `--wasm` / `--dir` options, loading
 * the plugin module (building dist/diaryx_sync.wasm first when it is the
 * default and missing), and one plugin session over a folder:
 * load -> init({workspace_root}) -> work -> shutdown.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { PluginCallError } from '../plugin-host';
import { closeSharedHttpClient } from '../sync-http';
import { DEFAULT_WASM, ROOT, openWorkspaceHost, type WorkspaceHost } from '../workspace-host';
import { ActionableError } from '../../../common/src/cli/errors';

export interface PluginOptions {
  wasm: string;
  dir?: string;
  verbose?: boolean;
}

/** Adds `--wasm FILE` (and `--verbose`) to a command. */
export function withWasmOption(cmd: Command): Command {
  return cmd
    .option('--wasm <file>', 'plugin module', DEFAULT_WASM)
    .option('-v, --verbose', 'print the plugin log (host_log and runtime) to stderr');
}

/** Adds `--dir DIR` (required), `--wasm FILE` and `--verbose` to a command. */
export function withFolderOptions(cmd: Command): Command {
  return withWasmOption(cmd.requiredOption('--dir <dir>', 'workspace folder'));
}

/**
 * Path of a loadable plugin module. The default module is built with
 * `node scripts/build.mjs` when it does not exist yet; any other missing
 * file is an error.
 */
export function ensurePluginModule(wasm: string): string {
  const file = path.resolve(wasm);
  if (fs.existsSync(file)) return file;
  if (file !== DEFAULT_WASM) throw new ActionableError(`plugin module not found: ${file} (check --wasm)`);
  process.stderr.write(`${path.relative(process.cwd(), file) || file} is missing; building it with node scripts/build.mjs ...\n`);
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--quiet'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    throw new ActionableError('building the plugin failed (see the messages above); fix the build or pass --wasm FILE');
  }
  if (!fs.existsSync(file)) throw new ActionableError(`the build did not produce ${file}`);
  return file;
}

/** The workspace folder of `--dir`, which must exist. */
export function workspaceFolder(dir: string | undefined): string {
  if (!dir) throw new ActionableError('--dir is required');
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new ActionableError(`not a folder: ${abs}`);
  return abs;
}

/**
 * For commands that only show what the plugin holds: a folder that was never
 * synced has nothing to show, and must not get a `.diaryx` folder from
 * being looked at.
 */
export function requireSyncState(dir: string | undefined): void {
  const abs = workspaceFolder(dir);
  if (!fs.existsSync(path.join(abs, '.diaryx'))) {
    throw new ActionableError(`${abs} was never synced (it has no .diaryx folder), so there is nothing to show; run \`diaryx-sync sync --dir ${dir}\` first`);
  }
}

export interface SessionOptions {
  /** Call shutdown at the end (default true). */
  shutdown?: boolean;
  /** Call init first (default true). */
  init?: boolean;
}

/** Runs `work` on a plugin instance over `--dir`, with init before and shutdown after. */
export async function withPluginSession<T>(opts: PluginOptions, work: (ws: WorkspaceHost) => Promise<T>, session: SessionOptions = {}): Promise<T> {
  const dir = workspaceFolder(opts.dir);
  const wasm = ensurePluginModule(opts.wasm);
  const verbose = opts.verbose ?? false;
  const ws = await openWorkspaceHost({
    dir,
    wasm,
    onLog: verbose ? (level, message) => process.stderr.write(`[plugin ${level}] ${message}\n`) : undefined,
    plugin: verbose ? { onRuntimeLog: (l) => process.stderr.write(`[runtime ${l.level}] ${l.message}\n`) } : undefined,
  });
  try {
    if (session.init ?? true) await ws.plugin.init({ workspace_root: dir });
    const result = await work(ws);
    if (session.shutdown ?? true) await ws.plugin.shutdown();
    return result;
  } catch (e) {
    if (e instanceof PluginCallError) throw new ActionableError(e.message);
    throw e;
  } finally {
    if (session.shutdown ?? true) await ws.close();
    else await ws.plugin.dispose();
    closeSharedHttpClient();
  }
}

/** Parses a JSON command-line argument. */
export function parseJsonArg(text: string | undefined, what: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ActionableError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Writes text to stdout, ending with a newline. */
export function printLine(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

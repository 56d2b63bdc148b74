/**
 * `diaryx-sync command NAME [PARAMS_JSON] --dir DIR`: runs a plugin command
 * (handle_command) on the folder and prints the JSON response. The exit
 * status is non-zero when the response says `success: false`.
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../../common/src/cli/errors';
import { parseJsonArg, printLine, withFolderOptions, withPluginSession, type PluginOptions } from '../plugin-session';

export function register(program: Command): void {
  withFolderOptions(
    program
      .command('command')
      .description('run a plugin command and print its JSON response')
      .argument('<name>', 'command name, e.g. GetSyncStatus')
      .argument('[params]', 'parameters as JSON (default null)'),
  ).action(async (name: string, paramsArg: string | undefined, opts: PluginOptions) => {
    const params = parseJsonArg(paramsArg, 'PARAMS_JSON') ?? null;
    const response = await withPluginSession(opts, (ws) => ws.plugin.command(name, params));
    printLine(JSON.stringify(response, null, 2));
    if (!response.success) throw new ActionableError(`command ${name} failed: ${response.error ?? 'no error message'}`);
  });
}

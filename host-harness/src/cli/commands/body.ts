/**
 * `diaryx-sync body PATH --dir DIR`: prints the body text the plugin holds
 * for a file (plugin command GetBodyContent).
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../../common/src/cli/errors';
import { requireSyncState, withFolderOptions, withPluginSession, type PluginOptions } from '../plugin-session';

export function register(program: Command): void {
  withFolderOptions(
    program.command('body').description("print a file's body from the plugin's body document").argument('<path>', 'workspace-relative file path'),
  ).action(async (file: string, opts: PluginOptions) => {
    requireSyncState(opts.dir);
    const [res, files] = await withPluginSession(opts, async (ws) => [
      await ws.plugin.command('GetBodyContent', { doc_name: file }),
      await ws.plugin.command('ListCrdtFiles', { include_deleted: false }),
    ]);
    if (!res.success) throw new ActionableError(`GetBodyContent failed: ${res.error ?? 'no error message'}`);
    // A path the workspace does not hold has an empty body: say so instead of printing nothing.
    if (files.success && Array.isArray(files.data) && !(files.data as unknown[]).some((e) => Array.isArray(e) && e[0] === file)) {
      throw new ActionableError(`no file ${file} in the workspace (\`diaryx-sync files --dir ${opts.dir}\` lists them)`);
    }
    const content = (res.data as { content?: unknown } | null)?.content;
    if (typeof content !== 'string') throw new ActionableError('GetBodyContent returned no content');
    process.stdout.write(content);
  });
}

/**
 * `diaryx-sync body PATH --dir DIR`: prints the body text the plugin holds
 * for a file (plugin command GetBodyContent).
 */
import type { Command } from 'commander';
import { ActionableError } from '../errors';
import { withFolderOptions, withPluginSession, type PluginOptions } from '../plugin-session';

export function register(program: Command): void {
  withFolderOptions(
    program.command('body').description("print a file's body from the plugin's body document").argument('<path>', 'workspace-relative file path'),
  ).action(async (file: string, opts: PluginOptions) => {
    const res = await withPluginSession(opts, (ws) => ws.plugin.command('GetBodyContent', { doc_name: file }));
    if (!res.success) throw new ActionableError(`GetBodyContent failed: ${res.error ?? 'no error message'}`);
    const content = (res.data as { content?: unknown } | null)?.content;
    if (typeof content !== 'string') throw new ActionableError('GetBodyContent returned no content');
    process.stdout.write(content);
  });
}

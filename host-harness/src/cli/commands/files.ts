/**
 * `diaryx-sync files --dir DIR [--deleted]`: lists the files of the
 * workspace CRDT (plugin command ListCrdtFiles).
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../../common/src/cli/errors';
import { printLine, requireSyncState, withFolderOptions, withPluginSession, type PluginOptions } from '../plugin-session';

interface FilesOptions extends PluginOptions {
  deleted?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  withFolderOptions(program.command('files').description('list the files in the workspace CRDT'))
    .option('--deleted', 'include deleted entries')
    .option('--json', 'print the raw [path, metadata] pairs')
    .action(async (opts: FilesOptions) => {
      requireSyncState(opts.dir);
      const res = await withPluginSession(opts, (ws) => ws.plugin.command('ListCrdtFiles', { include_deleted: opts.deleted ?? false }));
      if (!res.success) throw new ActionableError(`ListCrdtFiles failed: ${res.error ?? 'no error message'}`);
      if (opts.json) {
        printLine(JSON.stringify(res.data, null, 2));
        return;
      }
      const entries = Array.isArray(res.data) ? (res.data as unknown[]) : [];
      for (const entry of entries) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
        const meta = (entry[1] ?? {}) as { deleted?: boolean; title?: string | null };
        let line = entry[0];
        if (meta.title) line += `\t${meta.title}`;
        if (meta.deleted) line += '\t(deleted)';
        printLine(line);
      }
    });
}

/**
 * `diaryx-sync history [--file PATH] --dir DIR`: prints the update history
 * of the workspace document (GetHistory {doc_name:"workspace"}) or of one
 * file (GetFileHistory {file_path}).
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../../common/src/cli/errors';
import { printLine, requireSyncState, withFolderOptions, withPluginSession, type PluginOptions } from '../plugin-session';

interface HistoryOptions extends PluginOptions {
  file?: string;
  limit?: string;
  json?: boolean;
}

interface HistoryEntry {
  update_id?: number;
  timestamp?: number;
  origin?: string;
  files_changed?: string[];
  device_id?: string | null;
  device_name?: string | null;
}

export function register(program: Command): void {
  withFolderOptions(program.command('history').description('print the update history of the workspace or of one file'))
    .option('--file <path>', 'history of this file instead of the workspace')
    .option('--limit <n>', 'at most this many entries')
    .option('--json', 'print the raw entries')
    .action(async (opts: HistoryOptions) => {
      requireSyncState(opts.dir);
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new ActionableError('--limit must be a non-negative integer');
      const [name, params] = opts.file
        ? ['GetFileHistory', { file_path: opts.file, ...(limit === undefined ? {} : { limit }) }]
        : ['GetHistory', { doc_name: 'workspace', ...(limit === undefined ? {} : { limit }) }];
      const res = await withPluginSession(opts, (ws) => ws.plugin.command(name as string, params));
      if (!res.success) throw new ActionableError(`${name} failed: ${res.error ?? 'no error message'}`);
      if (opts.json) {
        printLine(JSON.stringify(res.data, null, 2));
        return;
      }
      for (const e of (Array.isArray(res.data) ? res.data : []) as HistoryEntry[]) {
        const when = typeof e.timestamp === 'number' ? new Date(e.timestamp).toISOString() : '?';
        const device = e.device_name ?? e.device_id ?? '-';
        printLine(`${e.update_id ?? '?'}\t${when}\t${e.origin ?? '?'}\t${device}\t${(e.files_changed ?? []).join(', ')}`);
      }
    });
}

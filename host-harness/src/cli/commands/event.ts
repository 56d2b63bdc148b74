/**
 * `diaryx-sync event TYPE [PAYLOAD_JSON] --dir DIR`: sends one on_event
 * (`{"event_type": TYPE, "payload": PAYLOAD}`) to the plugin over the folder,
 * e.g. `event file_saved '{"path":"notes/a.md"}'`.
 */
import type { Command } from 'commander';
import { ActionableError } from '../../../../common/src/cli/errors';
import { parseJsonArg, withFolderOptions, withPluginSession, type PluginOptions } from '../plugin-session';

export function register(program: Command): void {
  withFolderOptions(
    program
      .command('event')
      .description('send a workspace/file event to the plugin (on_event)')
      .argument('<type>', 'event type, e.g. file_saved, file_created, file_deleted, file_moved')
      .argument('[payload]', 'payload as a JSON object (default {})'),
  ).action(async (type: string, payloadArg: string | undefined, opts: PluginOptions) => {
    const payload = parseJsonArg(payloadArg, 'PAYLOAD_JSON') ?? {};
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new ActionableError('PAYLOAD_JSON must be a JSON object');
    }
    await withPluginSession(opts, (ws) => ws.plugin.event(type, payload as Record<string, unknown>));
  });
}

/**
 * `diaryx-sync call EXPORT [INPUT] --dir DIR`: calls one plugin export on an
 * instance over a folder (after init, with the plugin storage persisted in
 * the folder) and prints its output. Envelope-returning exports can print the
 * decoded actions with `--decode`.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { decodeEnvelope, type DecodedAction } from '../../../../common/src/wire/envelope';
import { ENVELOPE_EXPORTS } from '../../plugin-host';
import { ActionableError } from '../../../../common/src/cli/errors';
import { printLine, withFolderOptions, withPluginSession, type PluginOptions } from '../plugin-session';

interface CallOptions extends PluginOptions {
  inputFile?: string;
  inputBase64?: boolean;
  hex?: boolean;
  decode?: boolean;
  shutdown: boolean;
  init: boolean;
}

function describeAction(a: DecodedAction): Record<string, unknown> {
  switch (a.type) {
    case 'SendBinary':
      return { type: a.type, data_base64: Buffer.from(a.data).toString('base64'), bytes: a.data.length };
    case 'SendText':
      return { type: a.type, text: a.text };
    case 'EmitEvent':
      return { type: a.type, event: JSON.parse(a.json) as unknown };
    case 'DownloadSnapshot':
      return { type: a.type, workspace_id: a.workspaceId };
  }
}

function isPrintableUtf8(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000e-\u001f]/.test(text) ? null : text;
  } catch {
    return null;
  }
}

export function register(program: Command): void {
  withFolderOptions(
    program
      .command('call')
      .description('call a plugin export on the folder and print its output')
      .argument('<export>', 'export name, e.g. get_config or handle_command')
      .argument('[input]', 'input text (default empty)'),
  )
    .option('--input-file <file>', 'read the input bytes from a file')
    .option('--input-base64', 'the input argument is base64 bytes')
    .option('--hex', 'print the output as hex')
    .option('--decode', 'decode an action envelope and print its actions as JSON')
    .option('--no-init', 'do not call init first')
    .option('--no-shutdown', 'do not call shutdown afterwards')
    .action(async (exportName: string, inputArg: string | undefined, opts: CallOptions) => {
      let input: string | Uint8Array = inputArg ?? '';
      if (opts.inputFile) input = new Uint8Array(fs.readFileSync(opts.inputFile));
      else if (opts.inputBase64) input = new Uint8Array(Buffer.from(inputArg ?? '', 'base64'));
      if (opts.decode && !ENVELOPE_EXPORTS.has(exportName)) throw new ActionableError(`${exportName} does not return an action envelope`);
      const output = await withPluginSession(
        opts,
        async (ws) => {
          if (!(await ws.plugin.hasExport(exportName))) throw new ActionableError(`the plugin has no export named ${exportName}`);
          return ws.plugin.callRaw(exportName, input);
        },
        { shutdown: opts.shutdown, init: opts.init },
      );
      if (opts.decode) {
        let actions: DecodedAction[];
        try {
          actions = output.length === 0 ? [] : decodeEnvelope(output);
        } catch (e) {
          throw new ActionableError(`the output is not a valid action envelope: ${(e as Error).message}`);
        }
        printLine(JSON.stringify(actions.map(describeAction), null, 2));
        return;
      }
      const text = opts.hex ? null : isPrintableUtf8(output);
      if (text !== null) {
        if (text !== '') printLine(text);
      } else {
        printLine(Buffer.from(output).toString('hex'));
      }
    });
}

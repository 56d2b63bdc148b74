/**
 * `diaryx-sync manifest`: prints the plugin's manifest JSON (the `manifest`
 * export), building dist/diaryx_sync.wasm first if it is missing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { createHostFunctions } from '../../host-functions';
import { PluginCallError, PluginHost } from '../../plugin-host';
import { ActionableError } from '../../../../common/src/cli/errors';
import { ensurePluginModule, printLine, withWasmOption } from '../plugin-session';

export function register(program: Command): void {
  withWasmOption(program.command('manifest').description('print the plugin manifest JSON'))
    .option('--compact', 'print on one line')
    .action(async (opts: { wasm: string; compact?: boolean }) => {
      const wasm = ensurePluginModule(opts.wasm);
      // The manifest needs no workspace: an empty scratch folder stands in.
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-manifest-'));
      const host = await PluginHost.load({ wasm, functions: createHostFunctions({ workspaceDir: scratch }) });
      try {
        const manifest = await host.manifest();
        printLine(JSON.stringify(manifest, null, opts.compact ? undefined : 2));
      } catch (e) {
        if (e instanceof PluginCallError) throw new ActionableError(e.message);
        throw e;
      } finally {
        await host.dispose();
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    });
}

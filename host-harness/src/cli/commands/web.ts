/**
 * `diaryx-sync web [--port N] [--server URL] [--token T]`: serves the browser
 * host (host-harness/web/) on 127.0.0.1 and prints its address, with the
 * server and token preset in the URL when given. Runs until Ctrl-C.
 */
import type { Command } from 'commander';
import { startWebHost } from '../../web-host';
import { ensurePluginModule, printLine, withWasmOption } from '../plugin-session';

export function register(program: Command): void {
  withWasmOption(program.command('web').description('serve the browser host page for the plugin'))
    .option('--port <port>', 'port (0 = any free port)', '8080')
    .option('--server <url>', 'sync server URL to preset in the page')
    .option('--token <token>', 'access token to preset in the page')
    .action(async (opts: { wasm: string; port: string; server?: string; token?: string }) => {
      const wasm = ensurePluginModule(opts.wasm);
      const host = await startWebHost({ port: Number(opts.port), wasm });
      const query = new URLSearchParams();
      if (opts.server) query.set('server', opts.server);
      if (opts.token) query.set('token', opts.token);
      printLine(`web host on ${host.url}/${query.size > 0 ? `?${query}` : ''}`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await host.close();
    });
}

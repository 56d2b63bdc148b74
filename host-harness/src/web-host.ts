/**
 * Serves the browser host (host-harness/web/): the page, its script bundled
 * with esbuild on start (the @extism/extism browser build included), and the
 * plugin module. A plain static server on 127.0.0.1; the page talks to the
 * sync server directly (HTTP with CORS, WebSocket).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = path.resolve(HERE, '..', 'web');
const ROOT = path.resolve(HERE, '..', '..');

/** Bundles the page script (ES module, browser build of @extism/extism). */
export async function bundleWebApp(): Promise<string> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [path.join(WEB_DIR, 'src', 'main.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  return out.outputFiles[0].text;
}

export interface WebHostOptions {
  port?: number;
  host?: string;
  /** Plugin module served as /diaryx_sync.wasm (default dist/diaryx_sync.wasm). */
  wasm?: string;
}

export interface WebHost {
  url: string;
  close(): Promise<void>;
}

export async function startWebHost(options: WebHostOptions = {}): Promise<WebHost> {
  const wasm = options.wasm ?? path.join(ROOT, 'dist', 'diaryx_sync.wasm');
  if (!fs.existsSync(wasm)) throw new Error(`${wasm} does not exist; run npm run build first`);
  const app = await bundleWebApp();
  const index = fs.readFileSync(path.join(WEB_DIR, 'index.html'));
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (url === '/' || url === '/index.html') res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(index);
    else if (url === '/app.js') res.writeHead(200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' }).end(app);
    else if (url === '/diaryx_sync.wasm') {
      res.writeHead(200, { ...headers, 'content-type': 'application/wasm' });
      fs.createReadStream(wasm).pipe(res);
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tiny static HTTP server on 127.0.0.1 for browser tests (wasm served as application/wasm). */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `routes` (URL path -> file path or inline content). */
export async function serveStatic(routes: Record<string, string | { body: string; type: string }>): Promise<StaticServer> {
  const server = http.createServer((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0]];
    if (route === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    if (typeof route === 'string') {
      res.writeHead(200, { 'content-type': TYPES[path.extname(route)] ?? 'application/octet-stream' });
      fs.createReadStream(route).pipe(res);
    } else {
      res.writeHead(200, { 'content-type': route.type }).end(route.body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A small HTTP server running in a worker thread, for tests of the blocking
 * HTTP client: the test's own thread is blocked while a request is in flight,
 * so a server on that thread could never answer.
 *
 * Routes: /echo (method, headers and body as JSON), /status/<n>, /bytes?n=<n>
 * (n pattern bytes), /binary (bytes that are not UTF-8), /slow?ms=<ms>,
 * /redirect (302 to /echo).
 */
import { Worker } from 'node:worker_threads';

const SERVER_SOURCE = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (url.pathname === '/echo') {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-multi', ['a', 'b']);
      res.end(JSON.stringify({ method: req.method, headers: req.headers, body_base64: body.toString('base64') }));
    } else if (url.pathname.startsWith('/status/')) {
      res.statusCode = Number(url.pathname.slice(8));
      res.end('status body');
    } else if (url.pathname === '/bytes') {
      const n = Number(url.searchParams.get('n'));
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = (i * 131 + (i >> 8)) & 255;
      res.end(out);
    } else if (url.pathname === '/binary') {
      res.end(Buffer.from([0x68, 0x69, 0xff, 0xfe, 0x00]));
    } else if (url.pathname === '/slow') {
      setTimeout(() => res.end('late'), Number(url.searchParams.get('ms')));
    } else if (url.pathname === '/redirect') {
      res.statusCode = 302;
      res.setHeader('location', '/echo');
      res.end();
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => { if (m === 'close') { server.closeAllConnections(); server.close(() => process.exit(0)); } });
`;

export interface TestHttpServer {
  url: string;
  close(): Promise<void>;
}

export async function startHttpServerWorker(): Promise<TestHttpServer> {
  const worker = new Worker(SERVER_SOURCE, { eval: true });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      worker.postMessage('close');
      await new Promise((r) => worker.once('exit', r));
    },
  };
}

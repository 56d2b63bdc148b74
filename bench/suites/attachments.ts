/**
 * Attachments from one device to a second through the real server: one
 * large file and many small ones (200 MB: 100 MB + 1,000 x 100 KB; --quick:
 * 20 MB + 100 x 100 KB), referenced from entries (front matter and body
 * links). Device A runs `diaryx-sync sync --once` (uploads), then device B
 * (downloads). Every byte between the CLI and the server passes a loopback
 * TCP counter, so "wire bytes" is everything (HTTP headers, WebSocket frames
 * of the entries) over the file bytes. Server memory growth is the server
 * process's peak RSS (VmHWM) over its RSS before the transfers. The plain
 * HTTP baseline moves the same files with one PUT and one GET each to a
 * minimal node:http server on the same loopback, streaming to and from disk.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { spawnCli, startChildServer } from '../../test/server/helpers/child';
import { row, type Row, type Suite } from '../lib';
import { countingProxy } from '../../test/helpers/counting-proxy';

const SUITE = 'attachments';
const ROOT = path.resolve(import.meta.dirname, '../..');
const SMALL_BYTES = 100 * 1000;

async function token(dataDir: string, user: string): Promise<string> {
  const cli = spawnCli(['token', 'create', '--user', user, '--data-dir', dataDir]);
  await cli.exited;
  return cli.stdout.join('').trim().split('\n').pop()!.trim();
}

function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]);
}


/** Writes the workspace of device A; resolves to the attachment paths and their total bytes. */
function writeWorkspace(dir: string, bigBytes: number, smallCount: number): { files: string[]; bytes: number } {
  const files: string[] = [];
  const write = (rel: string, size: number) => {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(file, 'w');
    for (let left = size; left > 0; left -= 1 << 20) fs.writeSync(fd, randomBytes(Math.min(left, 1 << 20)));
    fs.closeSync(fd);
    files.push(rel);
  };
  write('_attachments/film.mov', bigBytes);
  fs.writeFileSync(path.join(dir, 'film.md'), '---\ntitle: Film\nattachments: ["_attachments/film.mov"]\n---\nThe film.\n');
  const perEntry = 100;
  for (let e = 0; e * perEntry < smallCount; e++) {
    const links: string[] = [];
    for (let i = e * perEntry; i < Math.min(smallCount, (e + 1) * perEntry); i++) {
      const rel = `photos/${e}/p${i}.jpg`;
      write(rel, SMALL_BYTES);
      links.push(`![](/${rel})`);
    }
    fs.writeFileSync(path.join(dir, `day-${e}.md`), `---\ntitle: Day ${e}\n---\n${links.join('\n')}\n`);
  }
  return { files, bytes: bigBytes + smallCount * SMALL_BYTES };
}

/** Runs `diaryx-sync sync --once`; resolves to its wall time in ms. */
async function syncOnce(dir: string, serverUrl: string, tok: string): Promise<number> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/diaryx-sync.mjs'), 'sync', '--dir', dir, '--server', serverUrl, '--workspace-id', 'bench', '--once', '--quiet', '--timeout', '600'], {
    env: { ...process.env, DIARYX_SYNC_TOKEN: tok },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  if (code !== 0) throw new Error(`sync --once of ${dir} exited ${code}: ${err}`);
  return performance.now() - t0;
}

/** The same files by plain HTTP (PUT each, then GET each) against a minimal streaming server. */
async function plainHttp(srcDir: string, files: string[], scratch: string): Promise<{ uploadMs: number; downloadMs: number }> {
  const store = path.join(scratch, 'plain-store');
  fs.mkdirSync(store, { recursive: true });
  const server = http.createServer((req, res) => {
    const file = path.join(store, encodeURIComponent(req.url!.slice(1)));
    if (req.method === 'PUT') {
      pipeline(req, fs.createWriteStream(file)).then(() => res.end('ok'), () => res.destroy());
    } else {
      res.writeHead(200, { 'Content-Length': fs.statSync(file).size });
      fs.createReadStream(file).pipe(res);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const request = (method: string, rel: string, body: string | null, out: string | null) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: `/${rel}`, method, agent }, (res) => {
        if (out) pipeline(res, fs.createWriteStream(out)).then(resolve, reject);
        else res.resume().on('end', resolve);
      });
      req.on('error', reject);
      if (body) fs.createReadStream(body).pipe(req);
      else req.end();
    });
  let t0 = performance.now();
  for (const rel of files) await request('PUT', rel, path.join(srcDir, rel), null);
  const uploadMs = performance.now() - t0;
  const outDir = path.join(scratch, 'plain-out');
  fs.mkdirSync(outDir, { recursive: true });
  t0 = performance.now();
  for (const [i, rel] of files.entries()) await request('GET', rel, null, path.join(outDir, String(i)));
  const downloadMs = performance.now() - t0;
  agent.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return { uploadMs, downloadMs };
}

const suite: Suite = async ({ quick, log }) => {
  const bigBytes = quick ? 20 * 1000 * 1000 : 100 * 1000 * 1000;
  const smallCount = quick ? 100 : 1000;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-bench-att-'));
  const rows: Row[] = [];
  try {
    const a = path.join(scratch, 'a');
    const b = path.join(scratch, 'b');
    const { files, bytes } = writeWorkspace(a, bigBytes, smallCount);
    const mb = (bytes / 1e6).toFixed(0);
    log(`${mb} MB in ${files.length} attachments`);
    const dataDir = path.join(scratch, 'server');
    const server = await startChildServer(dataDir, ['--attachment-quota-mb', '4096']);
    try {
      const tok = await token(dataDir, 'alice');
      const proxy = await countingProxy(Number(new URL(server.url).port));
      const url = `http://127.0.0.1:${proxy.port}`;
      const pid = server.proc.pid!;
      const rssBefore = procStatusKiB(pid, 'VmRSS');
      const upMs = await syncOnce(a, url, tok);
      const upWire = proxy.bytes();
      log(`device A: ${(upMs / 1000).toFixed(1)} s, ${(upWire / 1e6).toFixed(1)} MB on the wire`);
      const downMs = await syncOnce(b, url, tok);
      const downWire = proxy.bytes() - upWire;
      log(`device B: ${(downMs / 1000).toFixed(1)} s, ${(downWire / 1e6).toFixed(1)} MB on the wire`);
      const growthMiB = (procStatusKiB(pid, 'VmHWM') - rssBefore) / 1024;
      for (const rel of files) {
        if (fs.statSync(path.join(b, rel)).size !== fs.statSync(path.join(a, rel)).size) throw new Error(`device B's ${rel} differs`);
      }
      await proxy.close();
      const plain = await plainHttp(a, files, scratch);
      const what = `${mb} MB (${(bigBytes / 1e6).toFixed(0)} MB + ${smallCount} x 100 KB)`;
      rows.push(
        row(SUITE, `device A sync --once, uploads ${what}`, 'ms', upMs, plain.uploadMs, {
          notes: 'v8 column: plain HTTP PUT of the same files, one by one, on the same loopback; ratio = how many times slower',
        }),
        row(SUITE, `device B sync --once, downloads ${what}`, 'ms', downMs, plain.downloadMs, { notes: 'v8 column: plain HTTP GET of the same files' }),
        row(SUITE, 'wire bytes / file bytes, upload', 'ratio', upWire / bytes, null, { target: '<= 1.05', notes: 'everything between CLI and server, entries included' }),
        row(SUITE, 'wire bytes / file bytes, download', 'ratio', downWire / bytes, null, { target: '<= 1.05' }),
        row(SUITE, 'server memory growth (peak RSS - RSS before)', 'MiB', growthMiB, null, { target: '< 64 MiB' }),
      );
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
};

export default suite;

/**
 * Live sync: a workspace of 1,000 (and 10,000) files synced to a new device
 * (seconds to synced and verified, bytes on the wire against the sum of the
 * documents' encoded sizes), through the .wasm and the same TypeScript in V8;
 * and the server relaying updates among 50 clients (throughput, p50/p99
 * latency, server memory).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { decodeBase64 } from '../../common/src/base64';
import { bodyDocId, encodeFrame } from '../../common/src/wire/frame';
import { encodeSyncStep1, encodeSyncUpdate } from '../../common/src/wire/sync';
import { SyncJob } from '../../host-harness/src/sync-job';
import { row, type Row, type Suite } from '../lib';
import { writeWorkspace } from '../workspace-fixture';
import { spawnCli, startChildServer, type ChildServer } from '../../test/server/helpers/child';
import { BODY_TEXT_NAME } from '../../common/src/workspace/schema';

const SUITE = 'sync';

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

async function token(dataDir: string, user: string): Promise<string> {
  const cli = spawnCli(['token', 'create', '--user', user, '--data-dir', dataDir]);
  await cli.exited;
  return cli.stdout.join('').trim().split('\n').pop()!.trim();
}

function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Sum of the encoded sizes (bytes) of the workspace doc and every body doc, as the device holds them. */
async function encodedFloor(job: SyncJob): Promise<number> {
  const { plugin } = job.host;
  const size = (b64: unknown) => (typeof b64 === 'string' ? decodeBase64(b64).length : 0);
  let total = size(((await plugin.command('GetFullState', {})).data as { data: string }).data);
  const files = (await plugin.command('ListCrdtFiles', {})).data as [string, unknown][];
  for (const [key] of files) total += size(((await plugin.command('GetBodyFullState', { doc_name: key })).data as { data: string }).data);
  return total;
}

async function syncNewDevice(server: ChildServer, tok: string, workspaceId: string, engine: 'wasm' | 'node', files: number) {
  const dir = tmp(`diaryx-bench-dev-${engine}-`);
  const t0 = performance.now();
  const job = await SyncJob.start({ dir, serverUrl: server.url, token: tok, workspaceId, engine, watch: false });
  try {
    await job.waitUntilSynced(600_000);
    let differences = await job.verify();
    while (differences.length > 0 && performance.now() - t0 < 600_000) {
      await new Promise((r) => setTimeout(r, 100));
      differences = await job.verify();
    }
    const seconds = (performance.now() - t0) / 1000;
    if (differences.length > 0) throw new Error(`device did not converge: ${differences.length} differences`);
    const status = job.host.bridge!.status();
    const floor = await encodedFloor(job);
    const got = (await job.host.plugin.command('ListCrdtFiles', {})).data as unknown[];
    if (got.length !== files) throw new Error(`expected ${files} files, got ${got.length}`);
    return { seconds, wire: status.bytesReceived + status.bytesSent, floor };
  } finally {
    await job.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function initialSync(ctx: Parameters<Suite>[0], n: number): Promise<Row[]> {
  const dataDir = tmp('diaryx-bench-server-');
  const server = await startChildServer(dataDir);
  const source = tmp('diaryx-bench-source-');
  try {
    const tok = await token(dataDir, 'bench');
    const workspaceId = `bench-${n}`;
    writeWorkspace(source, n);
    ctx.log(`uploading ${n} files from a first device`);
    const uploadStart = performance.now();
    const first = await SyncJob.start({ dir: source, serverUrl: server.url, token: tok, workspaceId, engine: 'node', watch: false });
    await first.waitUntilSynced(600_000);
    for (let i = 0; i < 600 && (await first.verify()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    await first.stop();
    const upload = (performance.now() - uploadStart) / 1000;
    ctx.log(`new device (wasm)`);
    const wasm = await syncNewDevice(server, tok, workspaceId, 'wasm', n + 1);
    ctx.log(`new device (V8)`);
    const v8 = await syncNewDevice(server, tok, workspaceId, 'node', n + 1);
    return [
      row(SUITE, `initial sync of ${n} files to a new device`, 's', wasm.seconds, v8.seconds, {
        target: n <= 1000 ? '< 10 s' : '< 60 s',
        notes: `the first upload of the ${n} files (V8 plugin, set-up) took ${upload.toFixed(1)} s`,
      }),
      row(SUITE, `wire bytes / encoded size of all docs (${n} files)`, 'ratio', wasm.wire / wasm.floor, v8.wire / v8.floor, {
        target: '< 1.5',
        notes: `wasm device: ${wasm.wire} B on the wire, docs ${wasm.floor} B`,
      }),
    ];
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    fs.rmSync(source, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** 50 clients on one body doc, each sending small updates; every relayed frame's latency is measured. */
async function relay(ctx: Parameters<Suite>[0]): Promise<Row[]> {
  const clients = 50;
  const perSecond = 10;
  const seconds = ctx.quick ? 3 : 8;
  const dataDir = tmp('diaryx-bench-relay-');
  const server = await startChildServer(dataDir, ['--max-connections-per-user', String(clients + 4)]);
  try {
    const tok = await token(dataDir, 'relay');
    const docId = bodyDocId('relay-bench', 'note.md');
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let delivered = 0;
    const sockets: WebSocket[] = [];
    for (let i = 0; i < clients; i++) {
      const ws = new WebSocket(`${server.wsUrl}?workspace_id=relay-bench&token=${tok}`);
      ws.binaryType = 'nodebuffer';
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return;
        const key = data.toString('base64');
        const t = sentAt.get(key);
        if (t !== undefined) {
          latencies.push(performance.now() - t);
          delivered++;
        }
      });
      ws.send(encodeFrame(docId, encodeSyncStep1(new Uint8Array([0]))));
      sockets.push(ws);
    }
    await new Promise((r) => setTimeout(r, 500));
    const docs = sockets.map(() => new Y.Doc());
    const memBefore = rssMiB(server.proc.pid!);
    let sent = 0;
    const t0 = performance.now();
    // Sends are spread evenly: client i sends every 1/perSecond s, offset by i/clients of that period.
    let next = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now() - t0;
        if (now > seconds * 1000) {
          clearInterval(timer);
          resolve();
          return;
        }
        const due = Math.floor((now / 1000) * perSecond * clients);
        for (; next < due; next++) {
          const i = next % clients;
          const doc = docs[i];
          let update: Uint8Array | null = null;
          const capture = (u: Uint8Array) => (update = u);
          doc.on('update', capture);
          doc.getText(BODY_TEXT_NAME).insert(0, `${i}:${next}\n`);
          doc.off('update', capture);
          const frame = encodeFrame(docId, encodeSyncUpdate(update!));
          sentAt.set(Buffer.from(frame).toString('base64'), performance.now());
          sockets[i].send(frame);
          sent++;
        }
      }, 2);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const elapsed = (performance.now() - t0) / 1000;
    const memAfter = rssMiB(server.proc.pid!);
    for (const ws of sockets) ws.close();
    latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    return [
      row(SUITE, `relay: ${clients} clients x ${perSecond} updates/s, relayed frames per second`, 'frames/s', delivered / elapsed, null, {
        notes: `${sent} updates sent, ${delivered} deliveries (expected ${sent * (clients - 1)})`,
      }),
      row(SUITE, `relay latency p50 (${clients} clients)`, 'ms', p(0.5), null),
      row(SUITE, `relay latency p99 (${clients} clients)`, 'ms', p(0.99), null, { target: '< 50 ms' }),
      row(SUITE, 'relay: server memory (RSS) after the run', 'MiB', memAfter, null, { notes: `before the burst: ${memBefore?.toFixed(1)} MiB` }),
    ];
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const suite: Suite = async (ctx) => {
  const rows: Row[] = [];
  // Other sizes: DIARYX_BENCH_SYNC_FILES=1000,20000.
  const sizes = ctx.quick ? [200] : (process.env.DIARYX_BENCH_SYNC_FILES ?? '1000,10000').split(',').map(Number);
  if (!process.env.DIARYX_BENCH_RELAY_ONLY) for (const n of sizes) rows.push(...(await initialSync(ctx, n)));
  rows.push(...(await relay(ctx)));
  return rows;
};

export default suite;

/**
 * The server under attack: 50 clients editing one body doc (2 updates/s
 * each, every relayed frame's latency measured) while 4 sockets without a
 * token flood junk frames (reconnecting whenever they are closed) and one
 * user uploads a zip bomb over and over and sends updates deleting 10^6
 * items one after another; next to the same run without the
 * attackers (load-attacker.ts, a process of its own). Reports the normal
 * clients' relay p50/p99 and the server's peak RSS (VmHWM of a fresh server
 * process per run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { bodyDocId } from '../../common/src/wire/frame';
import { startChildServer } from '../../test/server/helpers/child';
import { row, type Suite } from '../lib';
import { connectEditors, createToken, percentile } from '../relay-editors';

const SUITE = 'load';
const CLIENTS = 50;
/** Updates per client per second: a person typing, not the sync suite's stress rate. */
const PER_SECOND = 2;

/** Peak resident set size of a process so far, in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Starts the attackers (load-attacker.ts) in their own process; `stop` ends them and describes what they did. */
async function startAttackers(wsUrl: string, httpUrl: string, tok: string, workspaceId: string): Promise<{ stop(): Promise<string> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'load-attacker.ts'), wsUrl, httpUrl, tok, workspaceId], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  while (!out.includes('ready')) {
    if (proc.exitCode !== null) throw new Error('the attacker process exited before it was ready');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      const s = JSON.parse(out.trim().split('\n').pop()!) as { sockets: number; frames: number; uploads: number; statuses: number[]; deletes: number };
      return `${s.sockets} token-less sockets opened, ${s.frames} junk frames queued; ${s.uploads} zip bomb uploads (HTTP ${s.statuses.join('/')}); ${s.deletes} updates deleting 10^6 items answered`;
    },
  };
}

interface RunResult {
  /** null when no relayed frame arrived during the run. */
  p50: number | null;
  p99: number | null;
  peakRss: number;
  sent: number;
  delivered: number;
  attack: string;
}

async function run(seconds: number, attackers: boolean): Promise<RunResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-bench-load-'));
  const server = await startChildServer(dataDir, ['--max-connections-per-user', String(CLIENTS + 4)]);
  try {
    const tok = await createToken(dataDir, 'editor');
    const editors = await connectEditors([server.wsUrl], tok, bodyDocId('load-bench', 'note.md'), CLIENTS);
    await new Promise((r) => setTimeout(r, 500));

    let attack = 'none';
    let stopAttack = async () => {};
    if (attackers) {
      const bombTok = await createToken(dataDir, 'bomber');
      const res = await fetch(`${server.url}/api/workspaces`, { method: 'POST', headers: { Authorization: `Bearer ${bombTok}` }, body: '{"name":"bomb"}' });
      const { id } = (await res.json()) as { id: string };
      const attackers = await startAttackers(server.wsUrl, server.url, bombTok, id);
      stopAttack = async () => {
        attack = await attackers.stop();
      };
      // Let the attack get going before the clients start.
      await new Promise((r) => setTimeout(r, 1000));
    }

    const sent = await editors.edit(PER_SECOND, seconds);
    await new Promise((r) => setTimeout(r, 2000));
    await stopAttack();
    const peakRss = peakRssMiB(server.proc.pid!);
    editors.close();
    if (server.proc.exitCode !== null) throw new Error(`the server exited during the run: ${server.stderr.join('').slice(-2000)}`);
    const { latencies } = editors;
    return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), peakRss, sent, delivered: latencies.length, attack };
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const suite: Suite = async (ctx) => {
  const seconds = ctx.quick ? 4 : 10;
  ctx.log('without attackers');
  const quiet = await run(seconds, false);
  ctx.log('with 4 token-less flooders and a zip bomb uploader (64 x 4 MiB entries)');
  const loud = await run(seconds, true);
  ctx.log(loud.attack);
  const name = `${CLIENTS} clients x ${PER_SECOND} updates/s`;
  const ms = (v: number | null) => (v === null ? 'no relayed frame arrived' : `${v.toFixed(2)} ms`);
  const deliveries = (r: RunResult) => `${r.delivered} of ${r.sent * (CLIENTS - 1)} expected deliveries`;
  return [
    row(SUITE, `relay latency p50, ${name}, no attackers`, 'ms', quiet.p50, null, { notes: deliveries(quiet) }),
    row(SUITE, `relay latency p50, ${name}, under attack`, 'ms', loud.p50, null, { notes: `no attackers: ${ms(quiet.p50)}; ${deliveries(loud)}` }),
    row(SUITE, `relay latency p99, ${name}, no attackers`, 'ms', quiet.p99, null, { target: '< 50 ms' }),
    row(SUITE, `relay latency p99, ${name}, under attack`, 'ms', loud.p99, null, { target: '< 250 ms', notes: `no attackers: ${ms(quiet.p99)}; ${loud.attack}` }),
    row(SUITE, 'server peak RSS, no attackers', 'MiB', quiet.peakRss, null),
    row(SUITE, 'server peak RSS, under attack', 'MiB', loud.peakRss, null, { target: '< 1 GiB', notes: `no attackers: ${quiet.peakRss.toFixed(0)} MiB` }),
  ];
};

export default suite;

/**
 * Two server nodes on one Postgres database (a throw-away server started here):
 * 100 clients editing one body doc, split across the nodes, 10 updates/s each.
 * Every delivered update's latency is measured (send to receipt, matched by a
 * marker inside the update's text), split into same-node and cross-node
 * deliveries; next to it one node on the same database with all 100 clients.
 * Then the rate one node sustains: the per-client rate doubles until the relay
 * p99 passes 50 ms.
 */
import { bodyDocId } from '../../common/src/wire/frame';
import { withPgAuthStore } from '../../server/src/index';
import { startPostgres } from '../../server/src/testing/postgres-instance';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChildServer } from '../../test/server/helpers/child';
import { startNode, stopNode, type Node } from '../../test/scale-out/nodes';
import { row, type Row, type Suite } from '../lib';
import { connectEditors, createToken, percentile } from '../relay-editors';

const SUITE = 'scale-out';
const CLIENTS = 100;
const PER_SECOND = 10;

interface Latencies {
  same: number[];
  cross: number[];
  sent: number;
}

/** `CLIENTS` clients on `nodes` (client i on node i % n) send `perSecond` updates each for `seconds`. */
async function run(nodes: Node[], token: string, docName: string, perSecond: number, seconds: number): Promise<Latencies> {
  const editors = await connectEditors(
    nodes.map((n) => n.wsUrl),
    token,
    bodyDocId('scale-bench', docName),
    CLIENTS,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const sent = await editors.edit(perSecond, seconds);
  await new Promise((r) => setTimeout(r, 2000));
  editors.close();
  const nodeOf = (client: number) => client % nodes.length;
  const out: Latencies = { same: [], cross: [], sent };
  for (const d of editors.deliveries) (nodeOf(d.from) === nodeOf(d.to) ? out.same : out.cross).push(d.ms);
  return out;
}

/** The same load on the default single-node server (SQLite), for comparison. */
async function sqliteRun(perSecond: number, seconds: number): Promise<Latencies> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-bench-scale-'));
  const server = await startChildServer(dataDir, ['--max-connections-per-user', String(CLIENTS + 10), '--max-frames-per-second', '100000']);
  try {
    const token = await createToken(dataDir, 'bench');
    return await run([server], token, 'sqlite.md', perSecond, seconds);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const suite: Suite = async (ctx) => {
  const seconds = ctx.quick ? 4 : 10;
  ctx.log(`one node on SQLite (the default), ${CLIENTS} clients x ${PER_SECOND} updates/s`);
  const sqlite = await sqliteRun(PER_SECOND, seconds);
  const pgi = await startPostgres();
  const nodes: Node[] = [];
  try {
    const url = await pgi.createDatabase('bench');
    const token = await withPgAuthStore(url, (auth) => auth.createToken('bench'));
    const args = ['--max-connections-per-user', String(CLIENTS + 10), '--max-frames-per-second', '100000'];
    nodes.push(await startNode(url, args), await startNode(url, args));
    ctx.log(`one node, ${CLIENTS} clients x ${PER_SECOND} updates/s`);
    const single = await run([nodes[0]], token, 'single.md', PER_SECOND, seconds);
    ctx.log(`two nodes, ${CLIENTS / 2} clients on each`);
    const two = await run(nodes, token, 'two.md', PER_SECOND, seconds);
    // The same split at 1 update/s per client, a load a small machine carries: the cost of crossing nodes itself.
    ctx.log(`two nodes, ${CLIENTS / 2} clients on each, 1 update/s each`);
    const light = await run(nodes, token, 'light.md', 1, seconds);
    const lightSingle = await run([nodes[0]], token, 'light-single.md', 1, seconds);
    // Highest per-client rate one node relays with p99 <= 50 ms.
    let sustained: number | null = null;
    let over = '';
    for (let rate = 1; rate <= 64; rate *= 2) {
      ctx.log(`one node at ${rate} updates/s per client`);
      const r = await run([nodes[0]], token, `ramp-${rate}.md`, rate, ctx.quick ? 3 : 5);
      const p99 = percentile(r.same, 0.99);
      if (p99 === null || p99 > 50) {
        over = `at ${rate * CLIENTS} updates/s p99 was ${p99 === null ? 'unmeasured' : `${p99.toFixed(1)} ms`}`;
        break;
      }
      sustained = rate * CLIENTS;
    }
    const name = `${CLIENTS} clients x ${PER_SECOND} updates/s`;
    const expected = (l: Latencies, share: number) => `${l.same.length + l.cross.length} of ${Math.round(l.sent * (CLIENTS - 1) * share)} expected deliveries`;
    const ms = (v: number | null) => (v === null ? '–' : `${v.toFixed(2)} ms`);
    const rows: Row[] = [
      row(SUITE, `relay p50, one node on SQLite, ${name}`, 'ms', percentile(sqlite.same, 0.5), null, { notes: expected(sqlite, 1) }),
      row(SUITE, `relay p99, one node on SQLite, ${name}`, 'ms', percentile(sqlite.same, 0.99), null),
      row(SUITE, `relay p50, one node on Postgres, ${name}`, 'ms', percentile(single.same, 0.5), null, { notes: expected(single, 1) }),
      row(SUITE, `relay p99, one node on Postgres, ${name}`, 'ms', percentile(single.same, 0.99), null, { target: '< 50 ms' }),
      row(SUITE, `relay p50, two nodes, same node, ${name}`, 'ms', percentile(two.same, 0.5), null, { notes: expected(two, 1) }),
      row(SUITE, `relay p99, two nodes, same node, ${name}`, 'ms', percentile(two.same, 0.99), null),
      row(SUITE, `relay p50, two nodes, cross node, ${name}`, 'ms', percentile(two.cross, 0.5), null, { notes: `one node: ${ms(percentile(single.same, 0.5))}` }),
      row(SUITE, `relay p99, two nodes, cross node, ${name}`, 'ms', percentile(two.cross, 0.99), null, { target: '< 50 ms', notes: `one node: ${ms(percentile(single.same, 0.99))}` }),
      row(SUITE, `relay p50, two nodes, cross node, ${CLIENTS} clients x 1 update/s`, 'ms', percentile(light.cross, 0.5), null, {
        notes: `same node ${ms(percentile(light.same, 0.5))}; one node ${ms(percentile(lightSingle.same, 0.5))}`,
      }),
      row(SUITE, `relay p99, two nodes, cross node, ${CLIENTS} clients x 1 update/s`, 'ms', percentile(light.cross, 0.99), null, {
        target: '< 50 ms',
        notes: `same node ${ms(percentile(light.same, 0.99))}; one node ${ms(percentile(lightSingle.same, 0.99))}`,
      }),
      row(SUITE, `updates/s one node relays to ${CLIENTS} clients with p99 <= 50 ms`, 'updates/s', sustained, null, { notes: over || 'p99 stayed under 50 ms up to the highest rate tried' }),
    ];
    return rows;
  } finally {
    await Promise.all(nodes.map(stopNode));
    await pgi.stop();
  }
};

export default suite;

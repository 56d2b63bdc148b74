/**
 * The first sync of 1,000 files (--quick: 200; DIARYX_BENCH_E2EE_SYNC_FILES
 * sets another count) from device A through a real server process to device
 * B, in an end-to-end encrypted workspace next to an unencrypted one, in the
 * same run on the same machine (bench/first-sync.ts). Each row puts the
 * encrypted figure in the plugin column and the unencrypted one in the V8
 * column, so the ratio is encrypted / unencrypted; both devices run the
 * .wasm in both. The passphrase KDF is not part of it (keys are provisioned
 * as an unlock leaves them); its time is the `e2ee` suite's row.
 */
import os from 'node:os';
import { engineFromEnv } from '../../host-harness/src/engines/engine';
import { firstSync, type FirstSyncResult } from '../first-sync';
import { median, row, type Suite } from '../lib';

const SUITE = 'e2ee-sync';
const BOTH = 'plugin column: encrypted workspace; V8 column: the same files in an unencrypted workspace (both devices on the .wasm in both); ratio = encrypted / unencrypted';

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** The makeup of the stored envelopes, for the notes. */
function makeup(enc: FirstSyncResult): string {
  const m = enc.envelopes!;
  const count = m.updates + m.snapshots;
  const buckets = Object.entries(m.buckets)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([size, n]) => `${size} B x ${n}`)
    .join(', ');
  return (
    `${m.updates} update envelopes + ${m.snapshots} snapshots (${(count / enc.files).toFixed(2)} per file): ` +
    `Yjs payload ${kib(m.payloadBytes)} (each doc's updates merged: ${kib(m.mergedUpdateBytes)}), framing ${kib(m.framingBytes)} (header 30 or 70 + nonce 24 + tag 16 + length 4 = ${((m.framingBytes / count) | 0)} B each), ` +
    `padding ${kib(m.paddingBytes)} (${((m.paddingBytes / m.payloadBytes) * 100).toFixed(0)} % of the payload; padded sizes ${buckets})`
  );
}

const suite: Suite = async (ctx) => {
  const files = ctx.quick ? 200 : Number(process.env.DIARYX_BENCH_E2EE_SYNC_FILES ?? 1000);
  const engine = engineFromEnv();
  const load = os.loadavg()[0].toFixed(1);
  const runs = ctx.quick ? 1 : Number(process.env.DIARYX_BENCH_E2EE_SYNC_RUNS ?? 2);
  const plains: FirstSyncResult[] = [];
  const encs: FirstSyncResult[] = [];
  for (let i = 0; i < runs; i++) {
    plains.push(await firstSync({ files, mode: 'plain', log: ctx.log }));
    encs.push(await firstSync({ files, mode: 'encrypted', log: ctx.log }));
  }
  const errors = [...plains, ...encs].flatMap((r) => r.errors);
  if (errors.length > 0) throw new Error(`devices reported errors: ${errors.slice(0, 5).join('; ')}`);
  // Medians over the runs; the notes describe the last run.
  const m = (all: FirstSyncResult[], f: (r: FirstSyncResult) => number) => median(all.map(f));
  const both = (f: (r: FirstSyncResult) => number): [number, number] => [m(encs, f), m(plains, f)];
  const enc = encs[encs.length - 1];
  const plain = plains[plains.length - 1];
  const n = plain.files;
  const s = (ms: number) => ms / 1000;
  const each = (f: (r: FirstSyncResult) => number) => (all: FirstSyncResult[]) => all.map((r) => f(r).toFixed(1)).join(', ');
  const wire = (d: 'wireA' | 'wireB') => (r: FirstSyncResult) => r[d].toServer + r[d].toClient;
  const ways = (r: FirstSyncResult, d: 'wireA' | 'wireB') => `${kib(r[d].toServer)} up, ${kib(r[d].toClient)} down`;
  const total = each((r) => s(r.totalMs));
  const synced = each((r) => s(r.aSyncedMs));
  const partB = each((r) => s(r.bMs));
  const extra = { runs };
  return [
    row(SUITE, `first sync of ${n} files, device A -> server -> device B: A's start until B's folder holds every file byte for byte`, 's', ...both((r) => s(r.totalMs)), {
      ...extra,
      notes: `${BOTH}; engine ${engine}; each run (s): encrypted ${total(encs)}, unencrypted ${total(plains)}; A synced after ${synced(encs)} / ${synced(plains)} s, then B started; load average ${load} when the suite started`,
    }),
    row(SUITE, `first sync of ${n} files: device B's part (its start until every file is there)`, 's', ...both((r) => s(r.bMs)), {
      ...extra,
      notes: `A keeps running while B syncs; each run (s): encrypted ${partB(encs)}, unencrypted ${partB(plains)}`,
    }),
    row(SUITE, `first sync of ${n} files: device A's bytes on the wire, both ways`, 'bytes', ...both(wire('wireA')), {
      ...extra,
      notes: `last run: encrypted ${ways(enc, 'wireA')}; unencrypted ${ways(plain, 'wireA')}; files ${kib(plain.fileBytes)} (HTTP and WebSocket bytes through a counting proxy)`,
    }),
    row(SUITE, `first sync of ${n} files: device B's bytes on the wire, both ways`, 'bytes', ...both(wire('wireB')), {
      ...extra,
      notes: `last run: encrypted ${ways(enc, 'wireB')}; unencrypted ${ways(plain, 'wireB')}`,
    }),
    row(SUITE, `first sync of ${n} files: bytes the server stores (document rows)`, 'bytes', ...both((r) => r.storedBytes), {
      ...extra,
      notes: `last run: encrypted ${enc.storedRows} envelope and snapshot rows, unencrypted ${plain.storedRows} update and snapshot rows; data folder after the server stopped ${kib(enc.dataDirBytes)} / ${kib(plain.dataDirBytes)}`,
    }),
    row(SUITE, `first sync of ${n} files: stored bytes per file`, 'bytes', ...both((r) => r.storedBytes / n), { ...extra, notes: `last run: ${makeup(enc)}` }),
  ];
};

export default suite;

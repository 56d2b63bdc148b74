/**
 * Editing traces: the real B4 keystroke trace (../shared/data/automerge-paper.json.gz,
 * 259,778 single-character edits) in full mode, a seeded synthetic trace in
 * --quick mode.
 * - remote: every keystroke's Yjs update as one v2 frame per
 *   `handle_binary_message` call (body doc of one file, session active, no
 *   disk writes), against V8 applying the same updates to a Y.Doc. In full
 *   mode the first REMOTE_FULL_COUNT updates of B4: each remote change sends
 *   the whole body to the host twice (the bodyChanged event through
 *   host_emit_event and in the returned envelope), and the Extism boundary
 *   copies it 8 bytes per call, so the time per update grows with the body
 *   (about 25 ns per character) and all 259,778 would take hours;
 * - local: every keystroke as a `SetBodyContent` command, against V8
 *   applying the same edit with `Y.Text` in a transaction;
 * - encode and load of the final document in both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { encodeBase64 } from '../../common/src/base64';
import { bodyDocId, encodeFrame } from '../../common/src/wire/frame';
import { encodeSyncUpdate } from '../../common/src/wire/sync';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { ENGINES, type EngineName } from '../../host-harness/src/engines/engine';
import { PluginHost } from '../../host-harness/src/plugin-host';
import { DEFAULT_WASM, ROOT } from '../../host-harness/src/workspace-host';
import { median, row, timeMedian, type Row, type Suite } from '../lib';

const SUITE = 'trace';
const TRACE_FILE = path.resolve(ROOT, '..', 'shared', 'data', 'automerge-paper.json.gz');
const TRACE_SHA256 = '42c0ff1720c0cad77077e190e36135c9cab9f7bbc266351c0a7fe4981c6a1546';
const WORKSPACE = 'trace-bench';
const FILE = 'paper.md';
/** B4 updates applied as remote updates in full mode (see the header). */
const REMOTE_FULL_COUNT = 20_000;

type Patch = [number, number, string];

interface Trace {
  name: string;
  patches: Patch[];
  end: string;
}

function realTrace(): Trace {
  const gz = fs.readFileSync(TRACE_FILE);
  const sha = createHash('sha256').update(gz).digest('hex');
  if (sha !== TRACE_SHA256) throw new Error(`unexpected trace checksum ${sha}`);
  const data = JSON.parse(zlib.gunzipSync(gz).toString('utf8')) as { startContent: string; endContent: string; txns: { patches: Patch[] }[] };
  const patches = data.txns.flatMap((t) => t.patches);
  return { name: 'automerge-paper (B4)', patches, end: data.endContent };
}

/** 70% typing at the cursor, 30% backspace, 2% jumps; seeded. */
function syntheticTrace(n: number, seed = 7): Trace {
  let s = seed;
  const random = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const patches: Patch[] = [];
  let text = '';
  let cursor = 0;
  for (let i = 0; i < n; i++) {
    if (random() < 0.02) cursor = Math.floor(random() * (text.length + 1));
    if (random() < 0.3 && cursor > 0) {
      patches.push([cursor - 1, 1, '']);
      text = text.slice(0, cursor - 1) + text.slice(cursor);
      cursor--;
    } else {
      const ch = String.fromCharCode(97 + Math.floor(random() * 26));
      patches.push([cursor, 0, ch]);
      text = text.slice(0, cursor) + ch + text.slice(cursor);
      cursor++;
    }
  }
  return { name: `synthetic ${n} ops`, patches, end: text };
}

function replay(trace: Trace): string {
  let text = '';
  for (const [pos, del, ins] of trace.patches) text = text.slice(0, pos) + ins + text.slice(pos + del);
  return text;
}

/** One update per keystroke, as a typing user produces them (and the text after each). */
function keystrokeUpdates(trace: Trace): { updates: Uint8Array[]; doc: Y.Doc } {
  const doc = new Y.Doc();
  const text = doc.getText('body');
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  for (const [pos, del, ins] of trace.patches) {
    doc.transact(() => {
      if (del > 0) text.delete(pos, del);
      if (ins) text.insert(pos, ins);
    });
  }
  return { updates, doc };
}

async function plugin(engine: 'wasm' | 'node' | EngineName, dir: string): Promise<PluginHost> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, FILE), '');
  const functions = createHostFunctions({ workspaceDir: dir, storageDir: path.join(dir, '.diaryx', engine), storageQuotaBytes: 64 * 1024 * 1024 });
  const host = await PluginHost.load({ wasm: DEFAULT_WASM, engine, functions });
  await host.init({ workspace_root: dir });
  const res = await host.command('SetCrdtFile', { path: FILE, metadata: { filename: FILE, title: 'Paper', modified_at: 1 } });
  if (!res.success) throw new Error(String(res.error));
  return host;
}

/** Brings the session to Active without a server: connected, then the server's crdt_state. */
async function activate(host: PluginHost): Promise<void> {
  await host.callRaw('on_connected', JSON.stringify({ workspace_id: WORKSPACE, write_to_disk: false }));
  const state = (await host.command('GetFullState', {})).data as { data: string };
  await host.callRaw('handle_text_message', JSON.stringify({ type: 'crdt_state', state: state.data }));
}

const suite: Suite = async (ctx) => {
  const trace = ctx.quick || !fs.existsSync(TRACE_FILE) ? syntheticTrace(ctx.quick ? 3000 : 100_000) : realTrace();
  if (replay(trace) !== trace.end) throw new Error('trace replay does not give the end content');
  ctx.log(`${trace.name}: ${trace.patches.length} edits`);
  const rows: Row[] = [];
  const { updates, doc: sourceDoc } = keystrokeUpdates(trace);
  const remoteCount = ctx.quick ? updates.length : Math.min(updates.length, REMOTE_FULL_COUNT);
  const remoteUpdates = updates.slice(0, remoteCount);
  const remoteEnd = replay({ ...trace, patches: trace.patches.slice(0, remoteCount) });
  const frames = remoteUpdates.map((u) => encodeFrame(bodyDocId(WORKSPACE, FILE), encodeSyncUpdate(u)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-bench-trace-'));
  try {
    // ---- remote updates ----
    const v8Remote = await timeMedian(ctx.runs, () => {
      const d = new Y.Doc();
      for (const u of remoteUpdates) Y.applyUpdate(d, u);
      if (d.getText('body').toString() !== remoteEnd) throw new Error('V8 result differs');
    });
    const remote: Record<string, number> = {};
    for (const engine of ['wasm', 'node', ...ENGINES] as const) {
      const host = await plugin(engine, path.join(dir, engine));
      await activate(host);
      const t0 = performance.now();
      for (const f of frames) await host.callRaw('handle_binary_message', f);
      remote[engine] = performance.now() - t0;
      const body = (await host.command('GetBodyContent', { doc_name: FILE })).data as { content: string };
      if (body.content !== remoteEnd) throw new Error(`${engine}: remote result differs`);
      await host.close();
    }
    rows.push(
      row(SUITE, `${trace.name}${remoteCount < updates.length ? `, first ${remoteCount} updates` : ''}: apply as remote updates, one frame per handle_binary_message call`, 'ms', remote.wasm, v8Remote, {
        target: '< 5x V8',
        notes: `V8: median of ${ctx.runs} runs; plugin in V8 through the same harness: ${remote.node.toFixed(0)} ms; ${((remoteCount / remote.wasm) * 1000).toFixed(0)} updates/s in the plugin; body ${remoteEnd.length} characters at the end`,
      }),
    );

    for (const engine of ENGINES) {
      rows.push(
        row(SUITE, `engine ${engine}: ${trace.name}${remoteCount < updates.length ? `, first ${remoteCount} updates` : ''} as remote updates`, 'ms', remote[engine], v8Remote, {
          notes: `${((remoteCount / remote[engine]) * 1000).toFixed(0)} updates/s`,
        }),
      );
    }

    // ---- local edits ----
    const v8Local = await timeMedian(1, () => keystrokeUpdates(trace));
    const localCount = Math.min(trace.patches.length, ctx.quick ? 1000 : 20_000);
    const local: Record<string, number> = {};
    const localRuns = 3;
    for (const engine of ['wasm', 'node'] as const) {
      const times: number[] = [];
      for (let run = 0; run < localRuns; run++) {
        const host = await plugin(engine, path.join(dir, `local-${engine}-${run}`));
        let text = '';
        const t0 = performance.now();
        for (let i = 0; i < localCount; i++) {
          const [pos, del, ins] = trace.patches[i];
          text = text.slice(0, pos) + ins + text.slice(pos + del);
          const res = await host.command('SetBodyContent', { doc_name: FILE, content: text });
          if (!res.success) throw new Error(String(res.error));
        }
        times.push(performance.now() - t0);
        await host.close();
      }
      local[engine] = median(times);
    }
    const perSecond = (ms: number) => (localCount / ms) * 1000;
    rows.push(
      row(SUITE, `local edits through the plugin (SetBodyContent per keystroke, first ${localCount})`, 'edits/s', perSecond(local.wasm), perSecond(local.node), {
        runs: localRuns,
        target: '>= 5,000/s',
        notes: `V8 Y.Text edits without the plugin: ${((trace.patches.length / v8Local) * 1000).toFixed(0)}/s`,
      }),
    );

    // ---- encode and load ----
    const encoded = Y.encodeStateAsUpdate(sourceDoc);
    const v8Encode = await timeMedian(ctx.runs, () => Y.encodeStateAsUpdate(sourceDoc));
    const v8Load = await timeMedian(ctx.runs, () => Y.applyUpdate(new Y.Doc(), encoded));
    const host = await plugin('wasm', path.join(dir, 'encode'));
    const b64 = encodeBase64(encoded);
    const load = await timeMedian(ctx.runs, async () => {
      await host.command('ResetBodyDoc', { doc_name: FILE });
      const res = await host.command('ApplyBodyUpdate', { doc_name: FILE, update: b64 });
      if (!res.success) throw new Error(String(res.error));
    });
    const encode = await timeMedian(ctx.runs, async () => {
      const res = await host.command('GetBodyFullState', { doc_name: FILE });
      if (!res.success) throw new Error(String(res.error));
    });
    await host.close();
    rows.push(row(SUITE, `encode the final document (${encoded.length} B), command round trip`, 'ms', encode, v8Encode, { runs: ctx.runs }));
    rows.push(row(SUITE, `load the final document, command round trip`, 'ms', load, v8Load, { runs: ctx.runs }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
};

export default suite;

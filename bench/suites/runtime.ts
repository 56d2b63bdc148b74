/**
 * The QuickJS/Extism runtime itself: artefact sizes, instantiation with and
 * without pre-initialisation, per-call overhead by payload size, and Yjs edits
 * inside the plugin against the same code in V8; then, per engine of the Node
 * host (host-harness/src/engines), create + first call and echo calls through
 * PluginHost.
 */
import createPlugin, { type Plugin } from '@extism/extism';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { median, row, timeMedian, type Row, type Suite } from '../lib';
import { yjsSingleCharEdits } from '../../test/fixtures/probe/workloads';
import { ENGINES } from '../../host-harness/src/engines/engine';
import { PluginHost } from '../../host-harness/src/plugin-host';
// @ts-expect-error plain ESM build script without type declarations
import { readInterface } from '../../scripts/build/interface.mjs';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const WORK = path.join(ROOT, '.build', 'bench');
const SUITE = 'runtime';
const SILENT = { debug() {}, info() {}, warn() {}, error() {}, trace() {} } as unknown as Console;

interface BuildReport {
  size: number;
  sizeBeforeOpt: number;
}

function build(args: string[], out: string): BuildReport {
  const report = path.join(WORK, path.basename(out) + '.report.json');
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--quiet', '--out', out, '--report', report, ...args], {
    stdio: 'inherit',
  });
  return JSON.parse(fs.readFileSync(report, 'utf8')) as BuildReport;
}

function coldStart(file: string, runs: number, flags: string[] = []): { create: number; first: number; total: number } {
  const samples = Array.from({ length: runs }, () =>
    JSON.parse(execFileSync(process.execPath, [path.join(ROOT, 'bench', 'cold-start.mjs'), file, ...flags], { cwd: ROOT }).toString()),
  );
  return {
    create: median(samples.map((s) => s.create)),
    first: median(samples.map((s) => s.first)),
    total: median(samples.map((s) => s.total)),
  };
}

async function loadProbe(module: WebAssembly.Module): Promise<Plugin> {
  return createPlugin({ wasm: [{ module }] }, {
    useWasi: true,
    logger: SILENT,
    functions: { 'extism:host/user': { probe_upper: (cp: { store(s: string): bigint }) => cp.store('') } },
  });
}

const suite: Suite = async (ctx) => {
  fs.mkdirSync(WORK, { recursive: true });
  const rows: Row[] = [];
  const probeArgs = ['--entry', 'test/fixtures/probe/index.ts', '--abi', 'test/fixtures/probe/abi.d.ts'];
  ctx.log('building variants');
  const plugin = build([], path.join(WORK, 'diaryx_sync.wasm'));
  const pluginNoWizer = build(['--no-wizer'], path.join(WORK, 'diaryx_sync.nowizer.wasm'));
  const probeFile = path.join(WORK, 'probe.wasm');
  build(probeArgs, probeFile);

  rows.push(row(SUITE, '.wasm size, pre-initialised, before wasm-opt', 'bytes', plugin.sizeBeforeOpt, null));
  rows.push(row(SUITE, '.wasm size, pre-initialised, after wasm-opt', 'bytes', plugin.size, null, { target: '< 2 MiB (2,097,152)' }));
  rows.push(row(SUITE, '.wasm size, not pre-initialised, after wasm-opt', 'bytes', pluginNoWizer.size, null));

  ctx.log('cold starts (fresh process each)');
  const coldRuns = ctx.quick ? 3 : 7;
  const wiz = coldStart(path.join(WORK, 'diaryx_sync.wasm'), coldRuns);
  const noWiz = coldStart(path.join(WORK, 'diaryx_sync.nowizer.wasm'), coldRuns);
  rows.push(row(SUITE, 'cold: create plugin + first manifest call, pre-initialised', 'ms', wiz.total, null, { runs: coldRuns, target: '< 40 ms', notes: `create ${wiz.create.toFixed(1)} ms + first call ${wiz.first.toFixed(1)} ms (includes compiling the module)` }));
  rows.push(row(SUITE, 'cold: create plugin + first manifest call, not pre-initialised', 'ms', noWiz.total, null, { runs: coldRuns, notes: `create ${noWiz.create.toFixed(1)} ms + first call ${noWiz.first.toFixed(1)} ms` }));
  const loaded = coldStart(path.join(WORK, 'diaryx_sync.wasm'), coldRuns, ['--host-loaded']);
  rows.push(
    row(SUITE, 'cold: create plugin + first manifest call, pre-initialised, in a host already running', 'ms', loaded.total, null, {
      runs: coldRuns,
      target: '< 20 ms',
      notes: `create ${loaded.create.toFixed(1)} ms + first call ${loaded.first.toFixed(1)} ms; the module is read and compiled as above, but the parts of Node the Extism SDK loads on first use (WASI, fetch, crypto: ${Math.max(0, wiz.create - loaded.create).toFixed(1)} ms of the fresh-process figure) are loaded already`,
    }),
  );

  ctx.log('warm instantiation (module compiled once per process)');
  const pluginBytes = fs.readFileSync(path.join(WORK, 'diaryx_sync.wasm'));
  const module = await WebAssembly.compile(pluginBytes);
  const stubs: Record<string, () => bigint> = {};
  for (const imp of readInterface(pluginBytes).imports) if (imp.module === 'extism:host/user') stubs[imp.name] = () => 0n;
  const warmRuns = ctx.quick ? 10 : 30;
  const warm = await timeMedian(warmRuns, async () => {
    const p = await createPlugin({ wasm: [{ module }] }, {
      useWasi: true,
      logger: SILENT,
      functions: { 'extism:host/user': stubs },
    });
    await p.call('manifest', '');
    await p.close();
  });
  rows.push(row(SUITE, 'warm: create plugin + first manifest call (compiled module reused)', 'ms', warm, null, { runs: warmRuns, target: '< 20 ms' }));

  ctx.log('per engine: create + first call, echo');
  const userNames = readInterface(pluginBytes)
    .imports.filter((i: { module: string }) => i.module === 'extism:host/user')
    .map((i: { name: string }) => i.name) as string[];
  const stubTable = Object.fromEntries(userNames.map((n) => [n, () => '']));
  for (const engine of ENGINES) {
    const create = await timeMedian(warmRuns, async () => {
      const h = await PluginHost.load({ wasm: path.join(WORK, 'diaryx_sync.wasm'), engine, functions: stubTable });
      await h.callText('manifest', '');
      await h.dispose();
    });
    rows.push(row(SUITE, `engine ${engine}: create plugin + first manifest call (compiled module reused), through PluginHost`, 'ms', create, null, { runs: warmRuns }));
    const h = await PluginHost.load({ wasm: probeFile, engine, functions: { probe_upper: () => '' } });
    try {
      for (const [label, size] of [['1 KiB', 1024], ['1 MiB', 1024 * 1024]] as const) {
        const input = new Uint8Array(size).fill(7);
        const calls = size >= 1024 * 1024 ? 20 : 500;
        await h.callRaw('echo', input);
        const t = await timeMedian(ctx.runs, async () => {
          for (let i = 0; i < calls; i++) await h.callRaw('echo', input);
        });
        rows.push(row(SUITE, `engine ${engine}: echo call, ${label} in and out, through PluginHost`, 'ms/call', t / calls, null, { runs: ctx.runs }));
      }
    } finally {
      await h.dispose();
    }
  }

  ctx.log('call overhead');
  const probeModule = await WebAssembly.compile(fs.readFileSync(probeFile));
  const probe = await loadProbe(probeModule);
  try {
    for (const [label, size] of [['0 B', 0], ['1 KiB', 1024], ['1 MiB', 1024 * 1024]] as const) {
      const input = new Uint8Array(size).fill(7);
      const calls = size >= 1024 * 1024 ? 20 : 500;
      await probe.call('echo', input);
      const t = await timeMedian(ctx.runs, async () => {
        for (let i = 0; i < calls; i++) await probe.call('echo', input);
      });
      const v8 = await timeMedian(ctx.runs, () => {
        for (let i = 0; i < calls; i++) new Uint8Array(input);
      });
      rows.push(row(SUITE, `echo call, ${label} in and out`, 'ms/call', t / calls, v8 / calls, { runs: ctx.runs, notes: 'V8: copying the buffer once' }));
    }

    const edits = 10_000;
    ctx.log(`Yjs ${edits} single-character edits`);
    await probe.call('yjsEdits', '200');
    yjsSingleCharEdits(200);
    const inPlugin = await timeMedian(ctx.runs, async () => {
      const out = JSON.parse((await probe.call('yjsEdits', String(edits)))!.text());
      if (out.length !== edits) throw new Error('wrong result in plugin');
    });
    const inV8 = await timeMedian(ctx.runs, () => {
      if (yjsSingleCharEdits(edits).length !== edits) throw new Error('wrong result in V8');
    });
    rows.push(row(SUITE, `Yjs: ${edits} single-character edits, each update applied to a second doc`, 'ms', inPlugin, inV8, { runs: ctx.runs }));
  } finally {
    await probe.close();
  }
  return rows;
};

export default suite;

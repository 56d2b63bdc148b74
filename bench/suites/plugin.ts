/**
 * Plugin state: `init` from storage with 1,000 and 10,000 files, and the
 * `shutdown` persist time, through the .wasm and the same TypeScript in V8,
 * and the size of the plugin's memory after them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { PluginHost } from '../../host-harness/src/plugin-host';
import { DEFAULT_WASM } from '../../host-harness/src/workspace-host';
import { median, row, type Row, type Suite } from '../lib';
import { writeWorkspace } from '../workspace-fixture';

const SUITE = 'plugin';

async function open(dir: string, engine: 'wasm' | 'node'): Promise<PluginHost> {
  const functions = createHostFunctions({ workspaceDir: dir, storageDir: path.join(dir, '.diaryx', 'storage'), storageQuotaBytes: 64 * 1024 * 1024 });
  return PluginHost.load({ wasm: DEFAULT_WASM, engine, functions });
}

/** A folder with n entries whose plugin storage already holds their CRDT state. */
async function prepared(n: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `diaryx-bench-${n}-`));
  writeWorkspace(dir, n);
  const host = await open(dir, 'node');
  await host.init({ workspace_root: dir });
  const res = await host.command('InitializeWorkspaceCrdt', { workspace_path: dir });
  if (!res.success) throw new Error(String(res.error));
  await host.close();
  return dir;
}

async function measure(dir: string, engine: 'wasm' | 'node', runs: number): Promise<{ init: number; shutdown: number; files: number; memory: number | null }> {
  const inits: number[] = [];
  const shutdowns: number[] = [];
  let files = 0;
  let memory: number | null = null;
  for (let r = 0; r < runs; r++) {
    const host = await open(dir, engine);
    await host.manifest();
    let t = performance.now();
    await host.init({ workspace_root: dir });
    inits.push(performance.now() - t);
    const list = await host.command('ListCrdtFiles', {});
    files = Array.isArray(list.data) ? list.data.length : 0;
    t = performance.now();
    await host.shutdown();
    shutdowns.push(performance.now() - t);
    memory = await host.memoryBytes();
    await host.close();
  }
  return { init: median(inits), shutdown: median(shutdowns), files, memory };
}

const suite: Suite = async (ctx) => {
  const rows: Row[] = [];
  for (const n of ctx.quick ? [1000] : [1000, 10000]) {
    ctx.log(`preparing ${n} files`);
    const dir = await prepared(n);
    try {
      const runs = n >= 10000 ? 1 : ctx.runs;
      const wasm = await measure(dir, 'wasm', runs);
      const v8 = await measure(dir, 'node', runs);
      if (wasm.files !== n + 1 || v8.files !== n + 1) throw new Error(`expected ${n + 1} files, got ${wasm.files} / ${v8.files}`);
      rows.push(row(SUITE, `init from storage, ${n} files (+ root)`, 'ms', wasm.init, v8.init, { runs, target: n >= 10000 ? '< 5 s' : undefined }));
      rows.push(row(SUITE, `shutdown (persist everything), ${n} files`, 'ms', wasm.shutdown, v8.shutdown, { runs }));
      if (wasm.memory !== null) {
        rows.push(
          row(SUITE, `plugin memory after init, file list and shutdown, ${n} files`, 'MiB', wasm.memory / 2 ** 20, null, {
            target: n >= 10000 ? '< 256 MiB' : undefined,
            notes: 'size of the WebAssembly linear memory (it never shrinks)',
          }),
        );
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
};

export default suite;

/**
 * History and snapshots: listing and diffing a file with 1,000 versions,
 * snapshot create and restore for a 1,000-file workspace, and the history's
 * storage size per 1,000 edits; through the .wasm and the same TypeScript in V8.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { PluginHost } from '../../host-harness/src/plugin-host';
import { DEFAULT_WASM } from '../../host-harness/src/workspace-host';
import { row, timeMedian, type Row, type Suite } from '../lib';
import { writeWorkspace } from '../workspace-fixture';

const SUITE = 'history';
const FILE = 'diary.md';

function storageDir(dir: string): string {
  return path.join(dir, '.diaryx', 'storage');
}

async function open(dir: string, engine: 'wasm' | 'node'): Promise<PluginHost> {
  let clock = Date.UTC(2026, 0, 1);
  const functions = createHostFunctions({
    workspaceDir: dir,
    storageDir: storageDir(dir),
    storageQuotaBytes: 64 * 1024 * 1024,
    clock: () => (clock += 1000),
  });
  const host = await PluginHost.load({ wasm: DEFAULT_WASM, engine, functions });
  await host.init({ workspace_root: dir });
  return host;
}

async function ok(host: PluginHost, name: string, params: unknown): Promise<unknown> {
  const res = await host.command(name, params);
  if (!res.success) throw new Error(`${name}: ${res.error}`);
  return res.data;
}

function historyBytes(dir: string): number {
  let total = 0;
  for (const name of fs.readdirSync(storageDir(dir))) if (name.startsWith('history')) total += fs.statSync(path.join(storageDir(dir), name)).size;
  return total;
}

/** A file edited `versions` times (one SetBodyContent per version), then saved. */
async function fileWithVersions(engine: 'wasm' | 'node', versions: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `diaryx-bench-history-${engine}-`));
  fs.writeFileSync(path.join(dir, FILE), '---\ntitle: Diary\n---\n');
  const host = await open(dir, engine);
  await host.event('file_created', { path: FILE });
  let text = '';
  for (let i = 0; i < versions; i++) {
    text += `line ${i}: something happened today\n`;
    await ok(host, 'SetBodyContent', { doc_name: FILE, content: text });
  }
  await host.close();
  return dir;
}

const suite: Suite = async (ctx) => {
  const rows: Row[] = [];
  const versions = ctx.quick ? 200 : 1000;
  const results: Record<string, { list: number; version: number; diff: number; bytes: number }> = {};
  for (const engine of ['wasm', 'node'] as const) {
    ctx.log(`${engine}: a file with ${versions} versions`);
    const dir = await fileWithVersions(engine, versions);
    try {
      const host = await open(dir, engine);
      const entries = (await ok(host, 'GetFileHistory', { file_path: FILE, limit: versions + 10 })) as { update_id: number }[];
      if (entries.length < versions) throw new Error(`${engine}: ${entries.length} versions listed, expected ${versions}`);
      const mid = entries[Math.floor(entries.length / 2)].update_id;
      const list = await timeMedian(ctx.runs, () => ok(host, 'GetFileHistory', { file_path: FILE, limit: versions + 10 }));
      const version = await timeMedian(ctx.runs, () => ok(host, 'GetFileVersion', { file_path: FILE, update_id: mid }));
      const diff = await timeMedian(ctx.runs, () => ok(host, 'GetVersionDiff', { doc_name: 'workspace', from_id: 0, to_id: entries[0].update_id }));
      await host.close();
      results[engine] = { list, version, diff, bytes: historyBytes(dir) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  rows.push(row(SUITE, `list the versions of a file with ${versions} versions (GetFileHistory)`, 'ms', results.wasm.list, results.node.list, { runs: ctx.runs }));
  rows.push(row(SUITE, `text of a middle version (GetFileVersion, for a diff)`, 'ms', results.wasm.version, results.node.version, { runs: ctx.runs }));
  rows.push(row(SUITE, `workspace diff over all versions (GetVersionDiff)`, 'ms', results.wasm.diff, results.node.diff, { runs: ctx.runs }));
  rows.push(
    row(SUITE, `history storage per 1,000 edits`, 'KiB', (results.wasm.bytes / versions) * 1000 / 1024, (results.node.bytes / versions) * 1000 / 1024, {
      notes: 'each edit appends one line (about 35 characters)',
    }),
  );

  // Snapshots: the user takes a snapshot of the workspace, goes back to an
  // earlier snapshot that had none of these files (one RestoreSnapshot removes
  // them all, as a person would do it; 1,000 separate file_deleted events would
  // make the set-up cost more than the work measured), then restores the full
  // snapshot again.
  const files = ctx.quick ? 200 : 1000;
  const timings: Record<string, { create: number; remove: number; restore: number }> = {};
  for (const engine of ['wasm', 'node'] as const) {
    ctx.log(`${engine}: snapshots of ${files} files`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `diaryx-bench-snap-${engine}-`));
    try {
      writeWorkspace(dir, 0);
      const host = await open(dir, engine);
      await ok(host, 'InitializeWorkspaceCrdt', { workspace_path: dir });
      const empty = (await ok(host, 'CreateSnapshot', { name: 'index only' })) as { id: string; file_count: number };
      if (empty.file_count !== 1) throw new Error(`${engine}: first snapshot has ${empty.file_count} files`);
      writeWorkspace(dir, files);
      await ok(host, 'InitializeWorkspaceCrdt', { workspace_path: dir });
      let t = performance.now();
      const snap = (await ok(host, 'CreateSnapshot', { name: 'bench' })) as { id: string; file_count: number };
      const create = performance.now() - t;
      if (snap.file_count !== files + 1) throw new Error(`${engine}: snapshot has ${snap.file_count} files`);
      t = performance.now();
      const removed = (await ok(host, 'RestoreSnapshot', { id: empty.id })) as { files_removed: number };
      const remove = performance.now() - t;
      if (removed.files_removed !== files) throw new Error(`${engine}: going back removed ${removed.files_removed} files`);
      if (fs.readdirSync(path.join(dir, 'days')).length !== 0) throw new Error(`${engine}: files left after going back`);
      t = performance.now();
      const restored = (await ok(host, 'RestoreSnapshot', { id: snap.id })) as { files_restored: number };
      const restore = performance.now() - t;
      if (restored.files_restored < files) throw new Error(`${engine}: restored ${restored.files_restored} files`);
      await host.close();
      timings[engine] = { create, remove, restore };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  rows.push(row(SUITE, `create a snapshot of ${files} files`, 'ms', timings.wasm.create, timings.node.create));
  rows.push(
    row(SUITE, `restore an earlier snapshot: ${files} files removed`, 'ms', timings.wasm.remove, timings.node.remove, {
      notes: 'includes the automatic snapshot of the files before the restore',
    }),
  );
  rows.push(
    row(SUITE, `restore a snapshot of ${files} files (all deleted before)`, 'ms', timings.wasm.restore, timings.node.restore, {
      notes: 'includes the automatic snapshot before the restore',
    }),
  );
  return rows;
};

export default suite;

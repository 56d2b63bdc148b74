/**
 * A host function that traps (the Rust host traps when a host function
 * fails) aborts only that export call. Each host function the plugin calls in
 * a realistic sequence (init, file events, edits, saves, connect, frames,
 * disconnect, shutdown) traps once in turn, in the middle of its calls: the
 * failed step is then run again, the sequence goes on, and the instance ends
 * where a run without traps ends, both live and after a restart from what it
 * stored. Runs on every engine (vitest.config.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeBase64 } from '../../common/src/base64';
import { encodeFrame } from '../../common/src/wire/frame';
import { encodeSyncStep1, encodeSyncUpdate } from '../../common/src/wire/sync';
import { HostTrap, engineFromEnv } from '../../host-harness/src/engines/engine';
import { PluginCallError } from '../../host-harness/src/plugin-host';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { bodyOf, createFile, hashTree, listFiles, markdown, openPlugin, pluginStorageDir, tempWorkspace, useCleanup, writeFile } from './helpers';

useCleanup();

const ENGINE = engineFromEnv();

/** A workspace update that adds `key`, as another device would send it. */
function remoteFile(key: string, title: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap<string>('files').set(key, JSON.stringify({ filename: key, title, modified_at: 1 }));
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/** A command through handle_command; a trap rejects with the PluginCallError (PluginHost.command would fold it into the answer). */
async function command(ws: WorkspaceHost, name: string, params: unknown = {}): Promise<unknown> {
  const res = JSON.parse(await ws.plugin.callText('handle_command', JSON.stringify({ command: name, params }))) as { success: boolean; data: unknown; error?: string };
  if (!res.success) throw new Error(`${name} failed: ${res.error}`);
  return res.data;
}

interface Step {
  name: string;
  run(ws: WorkspaceHost): Promise<unknown>;
}

/** The sequence; every step is safe to run again after it failed. */
const STEPS: Step[] = [
  { name: 'init', run: (ws) => ws.plugin.init({ workspace_root: ws.dir }) },
  { name: 'create README.md', run: (ws) => createFile(ws, 'README.md', markdown('title: Journal\ncontents:\n  - a.md', '\n# Journal\n')) },
  { name: 'create a.md', run: (ws) => createFile(ws, 'a.md', markdown('title: A\npart_of: README.md', 'alpha\n')) },
  { name: 'SetBodyContent a.md', run: (ws) => command(ws, 'SetBodyContent', { doc_name: 'a.md', content: 'alpha, edited\n' }) },
  {
    name: 'save a.md',
    run: async (ws) => {
      writeFile(ws.dir, 'a.md', markdown('title: A\npart_of: README.md', 'alpha, saved\n'));
      await ws.plugin.event('file_saved', { path: 'a.md' });
    },
  },
  { name: 'SaveCrdtState', run: (ws) => command(ws, 'SaveCrdtState') },
  { name: 'on_connected', run: (ws) => ws.plugin.callRaw('on_connected', JSON.stringify({ workspace_id: 'ws1', write_to_disk: true })) },
  { name: 'SyncStep1 frame', run: (ws) => ws.plugin.callRaw('handle_binary_message', encodeFrame('workspace:ws1', encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))) },
  { name: 'remote update frame', run: (ws) => ws.plugin.callRaw('handle_binary_message', encodeFrame('workspace:ws1', encodeSyncUpdate(remoteFile('remote.md', 'Remote')))) },
  {
    name: 'queue_local_update',
    run: (ws) => ws.plugin.callRaw('queue_local_update', JSON.stringify({ doc_id: 'workspace:ws1', data: encodeBase64(encodeSyncUpdate(remoteFile('queued.md', 'Queued'))) })),
  },
  { name: 'on_disconnected', run: (ws) => ws.plugin.callRaw('on_disconnected', '') },
  { name: 'shutdown', run: (ws) => ws.plugin.callRaw('shutdown', '{}') },
];

interface State {
  files: unknown;
  bodies: Record<string, string>;
}

/** What the plugin holds: the file tree (deleted entries too) and every body. */
async function state(ws: WorkspaceHost): Promise<State> {
  const files = await listFiles(ws, true);
  const bodies: Record<string, string> = {};
  for (const [key] of files) bodies[key] = await bodyOf(ws, key);
  return { files: stripVolatile(files), bodies };
}

/** modified_at comes from the host clock, which moves with the number of calls. */
function stripVolatile(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (k, v) => (k === 'modified_at' ? 0 : v));
}

/** The folder, without the plugin's storage (compared through the plugin instead). */
function folder(dir: string): Record<string, string> {
  const all = hashTree(dir);
  return Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('.diaryx/')));
}

/** Runs the sequence; `trapAt` names the call (function, 1-based index among its calls) that traps once. */
async function runSequence(
  trapAt: { name: string; nth: number } | null,
): Promise<{ ws: WorkspaceHost; counts: Map<string, number>; perStep: Map<string, number>[]; failed: string[] }> {
  const dir = tempWorkspace('diaryx-traps-');
  const ws = await openPlugin(dir, { plugin: { engine: ENGINE } });
  const counts = new Map<string, number>();
  let armed = trapAt !== null;
  for (const name of Object.keys(ws.functions)) {
    const inner = ws.functions[name];
    ws.functions[name] = (input: string) => {
      const n = (counts.get(name) ?? 0) + 1;
      counts.set(name, n);
      if (armed && trapAt && name === trapAt.name && n === trapAt.nth) {
        armed = false;
        throw new HostTrap(`${name} trapped (call ${n})`);
      }
      return inner(input);
    };
  }
  const failed: string[] = [];
  const perStep: Map<string, number>[] = [];
  for (const step of STEPS) {
    perStep.push(new Map(counts));
    const storedBefore = fs.existsSync(pluginStorageDir(dir)) ? fs.readdirSync(pluginStorageDir(dir)).sort() : [];
    try {
      await step.run(ws);
      continue;
    } catch (e) {
      if (!(e instanceof PluginCallError) || !e.trapped) throw e;
      failed.push(step.name);
    }
    // Nothing persisted is lost: every stored value is still there.
    const storedAfter = fs.existsSync(pluginStorageDir(dir)) ? fs.readdirSync(pluginStorageDir(dir)) : [];
    expect(storedAfter, `${trapAt?.name} trapped in ${step.name}: stored values lost`).toEqual(expect.arrayContaining(storedBefore));
    // The same step works on the same instance.
    await step.run(ws);
  }
  // Calls made during the sequence (the checks afterwards call host functions too).
  return { ws, counts: new Map(counts), perStep, failed };
}

describe(`host-function traps on ${ENGINE}`, () => {
  it('each host function trapping once mid-sequence aborts only that call; the instance ends where a run without traps ends', async () => {
    const reference = await runSequence(null);
    // The sequence ends with shutdown: init again on the same instance to read the state.
    await reference.ws.plugin.init({ workspace_root: reference.ws.dir });
    const expected = await state(reference.ws);
    const expectedFolder = folder(reference.ws.dir);
    expect(Object.keys(expected.bodies)).toEqual(expect.arrayContaining(['README.md', 'a.md', 'remote.md']));

    const called = [...reference.counts.keys()].sort();
    expect(called).toEqual(expect.arrayContaining(['host_get_timestamp', 'host_storage_set', 'host_read_file', 'host_write_file', 'host_ws_request']));
    // Every host function traps once in each step that calls it: at its first call there.
    const trapPoints: { name: string; nth: number; step: string }[] = [];
    STEPS.forEach((step, i) => {
      const before = reference.perStep[i];
      const after = reference.perStep[i + 1] ?? reference.counts;
      for (const name of called) {
        if ((after.get(name) ?? 0) > (before.get(name) ?? 0)) trapPoints.push({ name, nth: (before.get(name) ?? 0) + 1, step: step.name });
      }
    });
    const problems: string[] = [];
    for (const { name, nth, step } of trapPoints) {
      const run = await runSequence({ name, nth });
      expect(run.failed, `${name} #${nth}`).toEqual([step]);
      expect(run.failed.length, `${name} #${nth}: no step failed`).toBe(1);
      await run.ws.plugin.init({ workspace_root: run.ws.dir });
      const live = await state(run.ws);
      if (JSON.stringify(live) !== JSON.stringify(expected)) problems.push(`${name} #${nth} (in ${run.failed[0]}): live state differs: ${JSON.stringify(live)}`);
      const disk = folder(run.ws.dir);
      if (JSON.stringify(disk) !== JSON.stringify(expectedFolder)) problems.push(`${name} #${nth} (in ${run.failed[0]}): folder differs`);
      // A fresh instance over what it stored: the same state.
      await run.ws.plugin.shutdown();
      const again = await openPlugin(run.ws.dir, { plugin: { engine: ENGINE } });
      await again.plugin.init({ workspace_root: run.ws.dir });
      const restored = await state(again);
      if (JSON.stringify(restored) !== JSON.stringify(expected)) problems.push(`${name} #${nth} (in ${run.failed[0]}): restored state differs: ${JSON.stringify(restored)}`);
      await run.ws.close();
      await again.close();
      fs.rmSync(path.join(run.ws.dir), { recursive: true, force: true });
    }
    expect(problems).toEqual([]);
  }, 300_000);
});

/**
 * Every export of the built plugin is callable with reasonable input and with
 * empty or malformed input without trapping. Where the Rust plugin errors, an
 * Extism error with a readable message is expected; after every bad call the
 * next good call works and the state is intact.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeBase64 } from '../../common/src/base64';
import { decodeEnvelope } from '../../common/src/wire/envelope';
import { encodeFrame } from '../../common/src/wire/frame';
import { encodeSyncStep1, encodeSyncUpdate } from '../../common/src/wire/sync';
import { PluginCallError } from '../../host-harness/src/plugin-host';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { ENVELOPE_EXPORT_NAMES, EXPORT_NAMES } from '../../plugin/src/exports';
import { PLUGIN_WASM } from '../helpers/paths';
import { createFile, listFiles, markdown, ok, openInitialised, openPlugin, tempWorkspace, useCleanup } from './helpers';

useCleanup();

/** The Rust plugin's exports: the export table must hold exactly these. */
const ALL_EXPORTS = [
  'manifest',
  'init',
  'shutdown',
  'handle_command',
  'execute_typed_command',
  'get_component_html',
  'on_event',
  'get_config',
  'set_config',
  'handle_binary_message',
  'handle_text_message',
  'on_connected',
  'on_disconnected',
  'queue_local_update',
  'on_snapshot_imported',
  'sync_body_files',
];

const ENVELOPE: ReadonlySet<string> = new Set(ENVELOPE_EXPORT_NAMES);

/** Text of a wasm trap or an engine failure, as opposed to an error the plugin reports. */
const TRAP = /RuntimeError|unreachable|out of bounds|call stack|stack overflow|wasm trap|memory access|is not a function|undefined is not/i;

type Outcome = { ok: true; output: Uint8Array } | { ok: false; error: string };

async function call(ws: WorkspaceHost, name: string, input: string | Uint8Array): Promise<Outcome> {
  try {
    return { ok: true, output: await ws.plugin.callRaw(name, input) };
  } catch (e) {
    if (!(e instanceof PluginCallError)) throw e;
    return { ok: false, error: e.detail };
  }
}

/** The call either returned or failed with a plugin error (not a trap); envelope exports return a valid envelope. */
function expectNoTrap(name: string, input: string | Uint8Array, outcome: Outcome): void {
  const label = `${name}(${typeof input === 'string' ? JSON.stringify(input.slice(0, 60)) : `<${input.length} bytes>`})`;
  if (!outcome.ok) {
    expect(outcome.error, `${label} error text`).not.toMatch(TRAP);
    expect(outcome.error.length, `${label} has an error message`).toBeGreaterThan(0);
    return;
  }
  if (ENVELOPE.has(name)) expect(() => decodeEnvelope(outcome.output), `${label} returns a valid envelope`).not.toThrow();
}

/** A good call after a bad one: the plugin answers and still holds the known file. */
async function expectHealthy(ws: WorkspaceHost, expectedKeys: string[]): Promise<void> {
  const files = await listFiles(ws);
  expect(files.map(([k]) => k)).toEqual(expectedKeys);
}

function workspaceUpdate(key: string, title: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap<string>('files').set(key, JSON.stringify({ filename: key, title, modified_at: 1 }));
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

describe('the export list', () => {
  it('the export table, the built module and the V8 engine (engine node) have exactly these exports', async () => {
    expect([...EXPORT_NAMES].sort()).toEqual([...ALL_EXPORTS].sort());
    expect([...ENVELOPE_EXPORT_NAMES].sort()).toEqual(['handle_binary_message', 'handle_text_message', 'on_connected', 'on_disconnected', 'on_snapshot_imported', 'queue_local_update', 'sync_body_files']);
    const module = new WebAssembly.Module(fs.readFileSync(PLUGIN_WASM));
    const wasmExports = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name);
    expect(wasmExports.sort()).toEqual([...ALL_EXPORTS].sort());
    const dir = tempWorkspace();
    for (const engine of ['wasm', 'node'] as const) {
      const ws = await openPlugin(dir, { plugin: { engine } });
      for (const name of ALL_EXPORTS) expect(await ws.plugin.hasExport(name), `${engine}: ${name}`).toBe(true);
      for (const name of ['nope', '__probe__', 'toString', 'constructor']) expect(await ws.plugin.hasExport(name), `${engine}: ${name}`).toBe(false);
      await ws.close();
    }
  });
});

describe('exports with reasonable input', () => {
  it('every JSON export answers as specified', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir);
    const manifest = JSON.parse(await ws.plugin.callText('manifest', ''));
    expect(manifest.id).toBe('diaryx.sync');
    expect(await ws.plugin.callText('init', JSON.stringify({ workspace_root: dir, write_to_disk: true }))).toBe('');

    // handle_command: CommandResponse with the serde field order.
    expect(await ws.plugin.callText('handle_command', JSON.stringify({ command: 'ListCrdtFiles', params: {} }))).toBe(
      '{"success":true,"data":[],"error":null}',
    );
    // execute_typed_command: PluginResult on success, an Extism error on failure, an unknown command included (as the Rust plugin).
    expect(JSON.parse(await ws.plugin.callText('execute_typed_command', JSON.stringify({ type: 'GetSyncStatus', params: {} })))).toMatchObject({
      type: 'PluginResult',
      data: { state: 'idle' },
    });
    await expect(ws.plugin.callText('execute_typed_command', JSON.stringify({ type: 'NoSuchCommand', params: {} }))).rejects.toThrow(
      'Plugin command error: Unknown sync command: NoSuchCommand',
    );
    await expect(ws.plugin.callText('execute_typed_command', JSON.stringify({ type: 'GetCrdtFile', params: {} }))).rejects.toThrow(
      'Plugin command error: Missing parameter: path',
    );

    expect(await ws.plugin.callText('get_component_html', JSON.stringify({ component_id: 'sync.history' }))).toMatch(/<html|<!doctype/i);

    await createFile(ws, 'entry.md', markdown('title: Entry', 'entry body\n'));
    expect(await ws.plugin.callText('on_event', JSON.stringify({ event_type: 'file_saved', payload: { path: 'entry.md' } }))).toBe('');

    expect(await ws.plugin.callText('set_config', JSON.stringify({ workspace_id: 'w-exports' }))).toBe('');
    expect(JSON.parse(await ws.plugin.callText('get_config', ''))).toEqual({ server_url: null, auth_token: null, workspace_id: 'w-exports' });

    expect(await ws.plugin.callText('shutdown', '{}')).toBe('');
    // After shutdown, a new init brings the state back.
    expect(await ws.plugin.callText('init', JSON.stringify({ workspace_root: dir }))).toBe('');
    await expectHealthy(ws, ['entry.md']);
  });

  it('every envelope export returns a valid envelope during a session', async () => {
    const ws = await openInitialised({ plugin: { checkEnvelopes: true } });
    await createFile(ws, 'a.md', markdown('title: A', 'alpha\n'));

    const connected = await ws.plugin.callEnvelope('on_connected', JSON.stringify({ workspace_id: 'w1', write_to_disk: true }));
    const actions = decodeEnvelope(connected.output);
    // Connecting starts the handshake: something is sent to the server.
    expect(actions.some((a) => a.type === 'SendBinary' || a.type === 'SendText')).toBe(true);

    const peer = await ws.plugin.callEnvelope('handle_text_message', JSON.stringify({ type: 'peer_joined', guest_id: 'g1', peer_count: 2 }));
    expect(() => decodeEnvelope(peer.output)).not.toThrow();

    const step1 = encodeFrame('workspace:w1', encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    const reply = await ws.plugin.callEnvelope('handle_binary_message', step1);
    expect(() => decodeEnvelope(reply.output)).not.toThrow();

    const local = await ws.plugin.callEnvelope(
      'queue_local_update',
      JSON.stringify({ doc_id: 'workspace:w1', data: encodeBase64(encodeSyncUpdate(workspaceUpdate('remote.md', 'Remote'))) }),
    );
    expect(() => decodeEnvelope(local.output)).not.toThrow();

    const bodies = await ws.plugin.callEnvelope('sync_body_files', JSON.stringify({ file_paths: ['a.md'] }));
    expect(() => decodeEnvelope(bodies.output)).not.toThrow();

    const imported = await ws.plugin.callEnvelope('on_snapshot_imported', '');
    expect(() => decodeEnvelope(imported.output)).not.toThrow();

    const disconnected = await ws.plugin.callEnvelope('on_disconnected', '');
    expect(() => decodeEnvelope(disconnected.output)).not.toThrow();

    // The returned envelopes only hold what the plugin also dispatched itself.
    expect(ws.plugin.envelopeChecks.length).toBeGreaterThanOrEqual(7);
    for (const check of ws.plugin.envelopeChecks) expect(check.ok, `${check.exportName}: ${JSON.stringify(check)}`).toBe(true);
    expect((await listFiles(ws)).map(([k]) => k)).toContain('a.md');
  });
});

describe('init and shutdown', () => {
  it('take empty input, in any order and repeatedly, without losing state', async () => {
    const dir = tempWorkspace();
    const ws = await openPlugin(dir);
    // shutdown before any init
    expect(await ws.plugin.callText('shutdown', '')).toBe('');
    expect(await ws.plugin.callText('init', '')).toBe('');
    expect(await ws.plugin.callText('init', '')).toBe('');
    await ok(ws, 'ConfigureSyncHandler', { workspace_root: dir });
    await createFile(ws, 'kept.md', markdown('title: Kept', 'kept\n'));
    expect(await ws.plugin.callText('shutdown', '')).toBe('');
    expect(await ws.plugin.callText('shutdown', 'garbage')).toBe('');
    expect((await ws.plugin.command('ListCrdtFiles', {})).error).toBe('Plugin state not initialized');
    expect(await ws.plugin.callText('init', JSON.stringify({ workspace_root: dir }))).toBe('');
    await expectHealthy(ws, ['kept.md']);
    expect((await ok<{ content: string }>(ws, 'GetBodyContent', { doc_name: 'kept.md' })).content).toBe('kept\n');
  });
});

describe('exports with empty and malformed input', () => {
  const BAD_INPUTS: (string | Uint8Array)[] = ['', '{', 'not json', 'null', '[]', '{}', '"a string"', '42', '{"command":1}', '\u0000\u0001\u0002'];

  for (const initialised of [false, true]) {
    it(`no export traps on bad input ${initialised ? 'after init' : 'before init'}, and the next good call works`, async () => {
      const dir = tempWorkspace();
      const ws = await openPlugin(dir);
      const keys: string[] = [];
      if (initialised) {
        await ws.plugin.init({ workspace_root: dir });
        await createFile(ws, 'keep.md', markdown('title: Keep', 'keep me\n'));
        keys.push('keep.md');
      }
      for (const name of ALL_EXPORTS) {
        if (name === 'shutdown' || name === 'init') continue;
        for (const input of BAD_INPUTS) {
          expectNoTrap(name, input, await call(ws, name, input));
          // The next good call works.
          expect(JSON.parse(await ws.plugin.callText('get_config', ''))).toHaveProperty('server_url');
        }
      }
      if (initialised) await expectHealthy(ws, keys);
      else expect((await ws.plugin.command('ListCrdtFiles', {})).error).toBe('Plugin state not initialized');
    });
  }

  it('the JSON exports that need a shape report malformed JSON as an Extism error; init, on_connected and sync_body_files tolerate it', async () => {
    const ws = await openInitialised();
    await createFile(ws, 'keep.md', markdown('title: Keep', 'keep me\n'));
    for (const name of ['handle_command', 'on_event', 'set_config', 'execute_typed_command']) {
      for (const input of ['', '{not json']) {
        const outcome = await call(ws, name, input);
        expect(outcome.ok, `${name}(${JSON.stringify(input)}) fails`).toBe(false);
        if (!outcome.ok) expect(outcome.error).toMatch(/JSON|expecting|Unexpected|invalid/i);
        await expectHealthy(ws, ['keep.md']);
      }
    }
    // Missing `params` in a command request is a request error too (serde requires it).
    const missingParams = await call(ws, 'handle_command', JSON.stringify({ command: 'ListCrdtFiles' }));
    expect(missingParams.ok).toBe(false);
    if (!missingParams.ok) expect(missingParams.error).toMatch(/params/);

    // init treats malformed JSON as "all fields absent" (and keeps the stored state).
    expect(await ws.plugin.callText('init', '{not json')).toBe('');
    expect(await ws.plugin.callText('init', '')).toBe('');
    await ok(ws, 'ConfigureSyncHandler', { workspace_root: ws.dir });
    await expectHealthy(ws, ['keep.md']);
    for (const name of ['on_connected', 'sync_body_files']) {
      const outcome = await call(ws, name, '{not json');
      expect(outcome.ok, `${name} tolerates malformed JSON`).toBe(true);
    }
  });

  it('binary and text messages that are garbage do not trap and leave the state alone', async () => {
    const ws = await openInitialised();
    await createFile(ws, 'keep.md', markdown('title: Keep', 'keep me\n'));
    await ws.plugin.callEnvelope('on_connected', JSON.stringify({ workspace_id: 'w1', write_to_disk: true }));
    const frames: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(200),
      Uint8Array.of(5, 0x77, 0x6f),
      encodeFrame('workspace:w1', Uint8Array.of(0, 2, 50, 1, 2, 3)),
      encodeFrame('workspace:w1', Uint8Array.of(0, 9)),
      encodeFrame('body:w1/keep.md', Uint8Array.of(0, 1, 0xff, 0xff, 0xff)),
      encodeFrame('nonsense', Uint8Array.of(0, 0, 0)),
      Uint8Array.from({ length: 512 }, (_, i) => (i * 73 + 11) & 255),
    ];
    for (const frame of frames) {
      expectNoTrap('handle_binary_message', frame, await call(ws, 'handle_binary_message', frame));
      await expectHealthy(ws, ['keep.md']);
    }
    for (const text of ['', '{', '{"type":"sync_progress","completed":"x"}', '{"type":"crdt_state","state":"%%%"}', '{"type":"file_manifest","files":7}']) {
      expectNoTrap('handle_text_message', text, await call(ws, 'handle_text_message', text));
      await expectHealthy(ws, ['keep.md']);
    }
    for (const input of [
      JSON.stringify({ doc_id: 'workspace:w1', data: '!!!not base64' }),
      JSON.stringify({ doc_id: 'workspace:w1', data: encodeBase64(Uint8Array.of(0, 2, 9, 9)) }),
      JSON.stringify({ doc_id: 42, data: null }),
    ]) {
      expectNoTrap('queue_local_update', input, await call(ws, 'queue_local_update', input));
      await expectHealthy(ws, ['keep.md']);
    }
    expect(await bodyOfKeep(ws)).toBe('keep me\n');
  });
});

async function bodyOfKeep(ws: WorkspaceHost): Promise<string> {
  return (await ok<{ content: string }>(ws, 'GetBodyContent', { doc_name: 'keep.md' })).content;
}

/**
 * The bad-input corpus, run against every export of the built module, every
 * command of the manifest and every host function the plugin imports. The
 * lists come from the .wasm itself (its export and import tables) and from
 * the manifest, so an export, command or host function added later is covered
 * without touching this file.
 *
 * For each bad input: the call answers (an error, never a trap), the same
 * instance still works afterwards, and nothing persisted changed (every file
 * of the workspace folder and of the plugin storage is hashed before and
 * after).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { PluginCallError } from '../../host-harness/src/plugin-host';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { bodyDocId, encodeFrame, workspaceDocId } from '../../common/src/wire/frame';
import { PLUGIN_WASM } from '../helpers/paths';
import { bodyOf, hashTree, listFiles, markdown, ok, openSeeded, useCleanup } from './helpers';

useCleanup();

const module = new WebAssembly.Module(fs.readFileSync(PLUGIN_WASM));
const EXPORTS = WebAssembly.Module.exports(module)
  .filter((e) => e.kind === 'function')
  .map((e) => e.name);
const HOST_FUNCTIONS = WebAssembly.Module.imports(module)
  .filter((i) => i.module === 'extism:host/user')
  .map((i) => i.name);

const utf8 = new TextEncoder();
const MIB = 1024 * 1024;

/** Inputs no export should take as valid work: text and bytes. */
const EXPORT_INPUTS: [string, string | Uint8Array][] = [
  ['empty', ''],
  ['not JSON', 'not json at all'],
  ['truncated JSON', '{"command":"GetSyncStatus","params":'],
  ['JSON number', '42'],
  ['JSON array', '[1,2,3]'],
  ['JSON null', 'null'],
  ['wrong field types', '{"command":42,"params":"x","path":[],"event_type":{},"workspace_id":7}'],
  ['invalid UTF-8', Uint8Array.of(0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1)],
  ['random bytes', Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)],
  ['2 MiB of text', 'x'.repeat(2 * MIB)],
];

/** Exports that act on any input by design; the corpus checks that they answer and the instance survives. */
const STATEFUL_BY_DESIGN = new Set([
  // Re-initialises from the (unchanged) storage; an unparsable input counts as no fields.
  'init',
  // Saves everything (already saved) and stops.
  'shutdown',
]);

/** Parameters of the wrong shape for commands. */
const BAD_PARAMS: [string, unknown][] = [
  ['a number', 42],
  ['a string', 'params'],
  ['an array', ['a.md']],
  ['wrong field types', { path: 42, doc_name: [], file_path: {}, update: 7, content: null, update_id: 'x', id: false }],
  ['paths that leave the folder', { path: '../outside.md', doc_name: '../../etc/passwd', file_path: '/etc/passwd', workspace_path: '/' }],
  ['invalid base64', { doc_name: 'notes/a.md', update: '!!not base64!!', data: '%%%', state_vector: '@@' }],
];

async function stillWorks(ws: WorkspaceHost, label: string): Promise<void> {
  const status = await ws.plugin.command('GetSyncStatus', {});
  expect(status.success, `${label}: GetSyncStatus after`).toBe(true);
  expect(await bodyOf(ws, 'notes/a.md'), `${label}: body after`).toBe('alpha\n');
}

describe('every export', () => {
  it('the module exports the Diaryx plugin interface and imports the host functions it reads', () => {
    expect(EXPORTS).toEqual(expect.arrayContaining(['manifest', 'init', 'shutdown', 'handle_command', 'on_event', 'handle_binary_message']));
    expect(HOST_FUNCTIONS).toEqual(expect.arrayContaining(['host_storage_get', 'host_read_file', 'host_http_request']));
  });

  it.each(EXPORTS)('%s: malformed, wrong-typed, binary and oversized input is an error or ignored, changes nothing, and the instance keeps working', async (name) => {
    const ws = await openSeeded();
    for (const [label, input] of EXPORT_INPUTS) {
      const before = hashTree(ws.dir);
      const files = await listFiles(ws, true);
      let answered = true;
      try {
        await ws.plugin.callRaw(name, input);
      } catch (e) {
        // An error is fine: it must be the plugin's own, with a message.
        expect(e, `${name} ${label}`).toBeInstanceOf(PluginCallError);
        expect((e as Error).message.length, `${name} ${label}: error message`).toBeGreaterThan(name.length + 2);
        answered = false;
      }
      if (name === 'shutdown') {
        // A shut-down plugin is brought back the way hosts do it.
        expect(await ws.plugin.init({ workspace_root: ws.dir }), `${name} ${label}: re-init`).toBe('');
      }
      expect(hashTree(ws.dir), `${name} ${label}: files changed (answered: ${answered})`).toEqual(before);
      expect(await listFiles(ws, true), `${name} ${label}: CRDT changed`).toEqual(files);
      if (!STATEFUL_BY_DESIGN.has(name) || name === 'init') await stillWorks(ws, `${name} ${label}`);
    }
  });
});

describe('every command', () => {
  const commandsOf = async (ws: WorkspaceHost): Promise<string[]> => {
    const manifest = (await ws.plugin.manifest()) as { commands?: unknown };
    expect(Array.isArray(manifest.commands)).toBe(true);
    return manifest.commands as string[];
  };

  it('parameters of the wrong shape: a clear error and nothing changed (no command takes a number, string or array as its parameters)', async () => {
    const ws = await openSeeded();
    const commands = await commandsOf(ws);
    expect(commands.length).toBeGreaterThan(80);
    const acceptedNonObject: string[] = [];
    for (const command of commands) {
      for (const [label, params] of BAD_PARAMS) {
        // What an earlier accepted call changed is stored now, not by an autosave during this one.
        expect((await ws.plugin.command('SaveAllBodyDocs', {})).success).toBe(true);
        const before = hashTree(ws.dir);
        const files = await listFiles(ws, true);
        const res = await ws.plugin.command(command, params);
        if (res.success) {
          if (!(params !== null && typeof params === 'object' && !Array.isArray(params))) acceptedNonObject.push(`${command} (${label})`);
          continue;
        }
        expect(typeof res.error === 'string' && res.error.length > 3, `${command} with ${label}: error text`).toBe(true);
        expect(hashTree(ws.dir), `${command} with ${label}: files changed`).toEqual(before);
        expect(await listFiles(ws, true), `${command} with ${label}: CRDT changed`).toEqual(files);
      }
    }
    expect(acceptedNonObject).toEqual([]);
    await stillWorks(ws, 'after all commands');
  }, 120_000);
});

describe('binary frames in a live session', () => {
  /** A session made active without a server: connected, then the plugin's own state as the server's crdt_state. */
  async function active(): Promise<WorkspaceHost> {
    const ws = await openSeeded();
    await ws.plugin.callRaw('on_connected', JSON.stringify({ workspace_id: 'ws1', write_to_disk: true }));
    const state = await ok<{ data: string }>(ws, 'GetFullState');
    await ws.plugin.callRaw('handle_text_message', JSON.stringify({ type: 'crdt_state', state: state.data }));
    await ok(ws, 'SaveCrdtState');
    return ws;
  }

  const docId = utf8.encode(bodyDocId('ws1', 'notes/a.md'));
  const frames: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['length prefix only', Uint8Array.of(200)],
    ['doc id length larger than the frame', Uint8Array.of(250, ...utf8.encode('body:ws1/a'))],
    ['invalid UTF-8 doc id', Uint8Array.of(4, 0xff, 0xfe, 0xfd, 0xfc, 0, 0, 0)],
    ['unknown doc id prefix', encodeFrame('nothing:ws1/a.md', Uint8Array.of(0, 0, 1, 0))],
    ['unknown y-protocols message type', encodeFrame(workspaceDocId('ws1'), Uint8Array.of(9, 9, 9))],
    ['unknown sync subtype', encodeFrame(bodyDocId('ws1', 'notes/a.md'), Uint8Array.of(0, 7, 1, 0))],
    ['sync update length larger than the data', Uint8Array.of(docId.length, ...docId, 0, 2, 200, 1, 2, 3)],
    ['garbage Yjs update (body)', encodeFrame(bodyDocId('ws1', 'notes/a.md'), Uint8Array.of(0, 2, 6, 1, 255, 255, 255, 255, 9))],
    ['garbage Yjs update (workspace)', encodeFrame(workspaceDocId('ws1'), Uint8Array.of(0, 2, 5, 3, 1, 2, 250, 250))],
    ['garbage state vector', encodeFrame(bodyDocId('ws1', 'notes/a.md'), Uint8Array.of(0, 0, 4, 5, 255, 255, 255))],
    ['oversized (9 MiB) frame', encodeFrame(bodyDocId('ws1', 'notes/a.md'), new Uint8Array(9 * MIB).fill(7))],
  ];

  it.each(frames)('%s: no trap, no change, the session goes on', async (label, frame) => {
    const ws = await active();
    const before = hashTree(ws.dir);
    const files = await listFiles(ws, true);
    try {
      await ws.plugin.callRaw('handle_binary_message', frame);
    } catch (e) {
      expect(e, label).toBeInstanceOf(PluginCallError);
    }
    expect(hashTree(ws.dir), `${label}: files changed`).toEqual(before);
    expect(await listFiles(ws, true), `${label}: CRDT changed`).toEqual(files);
    await stillWorks(ws, label);
    // The session still applies a good frame afterwards: a local edit goes out as before.
    const sent = ws.calls.length;
    await ok(ws, 'SetBodyContent', { doc_name: 'notes/a.md', content: 'alpha\nbeta\n' });
    expect(ws.calls.slice(sent).some((c) => c.name === 'host_ws_request'), `${label}: local edit sent after`).toBe(true);
  });
});

describe('every host function the plugin reads', () => {
  /** Return values no host should give; each host function is made to give them in turn. */
  const GARBAGE: [string, string][] = [
    ['not JSON', 'garbage <>'],
    ['truncated JSON', '{"data":"AAE'],
    ['JSON of the wrong shape', '{"unexpected":[1,2,3]}'],
    ['a JSON number', '12345'],
    ['in-band error', '{"error":"disk on fire"}'],
    ['invalid base64 data', '{"data":"!!!%%%"}'],
    ['valid base64 of garbage bytes', '{"data":"3q2+7wAAAP///w=="}'],
    ['4 MiB of text', 'y'.repeat(4 * MIB)],
  ];
  /** Answers that decode as base64: for host_storage_get they are stored bytes, corrupt ones. */
  const CORRUPT_BYTES = new Set(['valid base64 of garbage bytes', '4 MiB of text']);

  /**
   * What each host function is given to answer. Any text is valid file
   * content, so host_read_file only gets its in-band error; text that decodes
   * as base64 is stored bytes for host_storage_get (corrupt ones: see below).
   */
  function garbageFor(name: string): [string, string][] {
    if (name === 'host_read_file') return GARBAGE.filter(([label]) => label === 'in-band error');
    if (name === 'host_storage_get') return GARBAGE.filter(([label]) => !CORRUPT_BYTES.has(label));
    return GARBAGE;
  }

  /** The stored Yjs docs (workspace and bodies) by storage file name. */
  function storedDocs(ws: WorkspaceHost): Map<string, Uint8Array> {
    const docs = new Map<string, Uint8Array>();
    for (const file of fs.readdirSync(ws.storageDir!)) {
      if (file === 'workspace_crdt' || file.startsWith('body%3A')) docs.set(file, new Uint8Array(fs.readFileSync(path.join(ws.storageDir!, file))));
    }
    return docs;
  }

  /**
   * Work that makes the plugin call every host function: file events, body
   * edits, a folder scan, snapshots restored (files written and removed), a
   * request to an unreachable server, saves, a connection, a shutdown and an
   * init. Ends with the folder as it started (scratch.md absent).
   */
  async function exercise(ws: WorkspaceHost): Promise<void> {
    await ws.plugin.command('set_config', { server_url: 'http://127.0.0.1:9', auth_token: 'corpus-token' });
    await ws.plugin.event('file_saved', { path: 'notes/a.md' });
    await ws.plugin.command('SetBodyContent', { doc_name: 'notes/a.md', content: 'alpha\n' });
    await ws.plugin.command('InitializeWorkspaceCrdt', { workspace_path: ws.dir });
    const before = await ws.plugin.command('CreateSnapshot', { name: 'corpus' });
    // A file the snapshot restore below writes back (files are only written when their text changes):
    // its front matter reworded on disk, not reported, so the plugin's state stays as it was.
    const a = path.join(ws.dir, 'notes', 'a.md');
    const original = fs.readFileSync(a, 'utf8');
    fs.writeFileSync(a, original.replace('---\n', '---\n# reworded\n'));
    fs.writeFileSync(path.join(ws.dir, 'scratch.md'), markdown('title: Scratch', 'scratch\n'));
    await ws.plugin.event('file_created', { path: 'scratch.md' });
    const id = (before.data as { id?: unknown } | null)?.id;
    if (typeof id === 'string') await ws.plugin.command('RestoreSnapshot', { id });
    await ws.plugin.command('RestoreDeletedFile', { file_path: 'scratch.md' });
    if (typeof id === 'string') await ws.plugin.command('RestoreSnapshot', { id });
    fs.rmSync(path.join(ws.dir, 'scratch.md'), { force: true });
    fs.writeFileSync(a, original);
    await ws.plugin.command('ListRemoteWorkspaces', {});
    await ws.plugin.command('SaveCrdtState', {});
    await ws.plugin.callRaw('on_connected', JSON.stringify({ workspace_id: 'ws1', write_to_disk: false }));
    await ws.plugin.callRaw('on_disconnected', '');
    await ws.plugin.shutdown();
    await ws.plugin.init({ workspace_root: ws.dir });
  }

  it('the work above reaches every host function', async () => {
    const ws = await openSeeded();
    const from = ws.calls.length;
    await exercise(ws);
    const reached = new Set(ws.calls.slice(from).map((c) => c.name));
    const unreached = HOST_FUNCTIONS.filter((name) => !reached.has(name) && name !== 'host_read_binary' && name !== 'host_write_binary');
    expect(unreached).toEqual([]);
  });

  it.each(HOST_FUNCTIONS)('%s answering garbage: no trap, the stored state is never replaced by it', async (name) => {
    const ws = await openSeeded();
    const real = ws.functions[name];
    const docsBefore = storedDocs(ws);
    for (const [label, garbage] of garbageFor(name)) {
      ws.functions[name] = () => garbage;
      try {
        await exercise(ws);
      } catch (e) {
        // Export errors are allowed (a host that breaks its contract); traps are not: the instance must answer below.
        expect(e, `${name} ${label}`).toBeInstanceOf(PluginCallError);
      } finally {
        ws.functions[name] = real;
      }
      // With the real host back, the plugin still has its files and text.
      expect(await ws.plugin.init({ workspace_root: ws.dir }), `${name} ${label}: init`).toBe('');
      await stillWorks(ws, `${name} ${label}`);
    }
    // Every stored doc still holds everything it held (a doc may have grown: never shrunk or replaced).
    const docsAfter = storedDocs(ws);
    for (const [file, before] of docsBefore) {
      const after = docsAfter.get(file);
      expect(after, `${name}: ${file} still stored`).toBeDefined();
      const missing = Y.diffUpdate(before, Y.encodeStateVectorFromUpdate(after!));
      expect(Y.decodeUpdate(missing).structs, `${name}: ${file} lost structs`).toEqual([]);
    }
  }, 120_000);

  it('corrupt stored docs: the bytes are kept under <key>.corrupt and the doc starts fresh; nothing else changes', async () => {
    const ws = await openSeeded();
    const garbage = Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0xff, 0xff, 0xff);
    await ws.plugin.shutdown();
    const bodyFile = fs.readdirSync(ws.storageDir!).find((f) => f.startsWith('body%3A') && f.includes('a.md'))!;
    fs.writeFileSync(path.join(ws.storageDir!, bodyFile), garbage);
    const folder = hashTree(ws.dir);
    expect(await ws.plugin.init({ workspace_root: ws.dir })).toBe('');
    // The body is read on first use: the file on disk still has the text.
    expect(fs.readFileSync(path.join(ws.dir, 'notes/a.md'), 'utf8')).toContain('alpha');
    await ws.plugin.command('GetBodyContent', { doc_name: 'notes/a.md' });
    await ws.plugin.command('SaveCrdtState', {});
    const corrupt = fs.readdirSync(ws.storageDir!).filter((f) => f.startsWith(bodyFile) && f.includes('.corrupt'));
    expect(corrupt).toHaveLength(1);
    expect(new Uint8Array(fs.readFileSync(path.join(ws.storageDir!, corrupt[0])))).toEqual(garbage);
    const changed = Object.keys(hashTree(ws.dir)).filter((k) => hashTree(ws.dir)[k] !== folder[k] && !k.includes('plugin-storage'));
    expect(changed).toEqual([]);
  });
});

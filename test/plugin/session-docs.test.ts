/**
 * The plugin's SessionDocs (plugin/src/session-docs.ts) keeps the contract its
 * in-memory double keeps (plugin/src/sync/testing/session-docs-suite.ts): each
 * device is the plugin's doc store and disk module over the harness's host
 * functions on a temporary folder, edited the way `on_event` file events do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { PluginHostFunctionName } from '../../common/src/host/host-functions';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { WorkspaceDisk } from '../../plugin/src/disk';
import { HostBridge } from '../../plugin/src/host/bridge';
import { PluginSessionDocs } from '../../plugin/src/session-docs';
import { PluginState } from '../../plugin/src/state';
import { runSessionDocsSuite, type SessionDocsDevice } from '../../plugin/src/sync/testing/session-docs-suite';
import { CLOCK_START } from './helpers';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function device(workspaceId: string): SessionDocsDevice {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-session-docs-'));
  dirs.push(dir);
  let now = CLOCK_START;
  const functions = createHostFunctions({ workspaceDir: dir, storageDir: path.join(dir, '.storage'), clock: () => (now += 1000) });
  const host = new HostBridge((name: PluginHostFunctionName, input: string) => {
    const fn = functions[name];
    if (fn === undefined) throw new Error(`host function ${name} missing in the test host`);
    return fn(input);
  });
  const state = new PluginState(host, { workspaceRoot: dir, workspaceId });
  const disk = new WorkspaceDisk(state, host);
  // The session is active: local bodies go into their docs right away.
  const docs = new PluginSessionDocs(state, disk, host, () => true);
  const write = (key: string, text: string): void => {
    const abs = path.join(dir, ...key.split('/'));
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, text);
  };
  /** As a file_saved event: metadata from the file, the body through setLocalBody, the text tracked. */
  const saved = (key: string, text: string, withBody: boolean): void => {
    write(key, text);
    const parsed = disk.parseLocal(key, text);
    if (withBody) {
      docs.setLocalBody(key, parsed.body);
      state.bodies.trackContent(key, parsed.body);
    }
    state.workspace.setFile(key, parsed.metadata);
  };
  return {
    docs,
    createFile: (key, body) => saved(key, body, true),
    createFileOnDiskOnly: (key, body) => saved(key, body, false),
    editBody: (key, text) => saved(key, text, true),
    deleteFile: (key) => {
      fs.rmSync(path.join(dir, ...key.split('/')));
      state.forgetBody(key);
      state.workspace.deleteFile(key, state.now);
    },
    trackContent: (key, text) => state.bodies.trackContent(key, text),
    bodyText: (key) => (state.bodies.has(key) ? state.bodies.getBody(key) : ''),
    diskBody: (key) => disk.readBody(key),
  };
}

runSessionDocsSuite('PluginSessionDocs', () => ({ workspaceId: 'w1', a: device('w1'), b: device('w1') }));

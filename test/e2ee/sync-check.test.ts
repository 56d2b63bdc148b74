/**
 * The in-sync check of an encrypted workspace (`CheckEncryptedSync`, what
 * `sync --once` runs instead of comparing with the server's zip) through the
 * built plugin and the real server: in sync when the server's heads are
 * applied and the folder equals the docs; not in sync, saying why, when the
 * server holds an envelope the device never received (a relay lost), when
 * the folder holds a file the docs do not, and when the device is offline.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { sealEnvelope } from '../../common/src/e2ee/envelope';
import { e2eeDocId } from '../../common/src/e2ee/frames';
import { DeviceKeys } from '../../plugin/src/e2ee/key-store';
import type { EncryptedSyncReport } from '../../plugin/src/commands/encrypted-sync-check';
import { entryText, stopDevice, waitFor, waitForSameFolders, writeFile, type Device } from '../e2e/helpers';
import { createEncryptedWorkspace, type EncryptedWorkspace } from '../helpers/e2ee-workspace';
import { encryptedSuite } from './suite';

const suite = encryptedSuite();

async function check(d: Device, params: object): Promise<EncryptedSyncReport> {
  const res = await d.job.host.plugin.command('CheckEncryptedSync', params);
  if (!res.success) throw new Error(`CheckEncryptedSync failed: ${res.error}`);
  return res.data as EncryptedSyncReport;
}

/**
 * Stores an envelope of the workspace doc on the server as an append by
 * another device would, without relaying it: what a device sees when a
 * relay is lost. Sealed with the workspace's keys, so it opens.
 */
function withheldEnvelope(ws: EncryptedWorkspace): number {
  const keys = DeviceKeys.fresh(ws.keys);
  const tag = keys.tagOf('workspace');
  const docId = e2eeDocId(ws.workspaceId, tag);
  const update = Y.encodeStateAsUpdate(new Y.Doc());
  const env = sealEnvelope(keys.docKey(1, tag)!, { workspaceId: ws.workspaceId, docTag: tag }, { kind: 'update', epoch: 1, deviceId: crypto.getRandomValues(new Uint8Array(16)), run: 1, ctr: 1 }, update);
  return suite.db((db) =>
    db.transaction(() => {
      const changeNo = (db.prepare('UPDATE e2ee_workspaces SET change_head = change_head + 1 WHERE id = ? RETURNING change_head').get(ws.workspaceId) as { change_head: number }).change_head;
      const { head } = db
        .prepare('UPDATE e2ee_docs SET head = head + 1, log_count = log_count + 1, log_bytes = log_bytes + ?, change_no = ? WHERE doc_id = ? RETURNING head')
        .get(env.length, changeNo, docId) as { head: number };
      db.prepare('INSERT INTO e2ee_envelopes (doc_id, seq, data, client_key, created_at) VALUES (?, ?, ?, ?, ?)').run(docId, head, env, env.slice(6, 30), Date.now());
      return head;
    })(),
  );
}

describe('the in-sync check of an encrypted workspace', () => {
  it('in sync on both devices with the bodies the docs hold; not in sync when the folder holds a file the docs do not', async () => {
    const ws = await createEncryptedWorkspace(suite.server.server.url, suite.token);
    const a = await suite.device('a', ws);
    const b = await suite.device('b', ws);
    const files = {
      'index.md': entryText({ title: 'Index', contents: ['[Day](/day.md)'], body: '\n# Index\n' }),
      'day.md': entryText({ title: 'Day', partOf: '[Index](/index.md)', body: '\nA quiet day.\n' }),
    };
    for (const [rel, text] of Object.entries(files)) writeFile(a.dir, rel, text);
    await waitForSameFolders([a, b], files);
    // A's last Appended may still be on its way when B has written the files.
    for (const d of [a, b]) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} in sync`, 30_000);
    const report = await check(b, { files: true });
    expect(report).toMatchObject({ workspace_id: ws.workspaceId, encryption: 'unlocked', in_sync: true, problems: [] });
    expect(report.heads.answered).toBe(report.heads.asked);
    expect(report.heads.change_head).toBeGreaterThan(0);
    expect(Object.fromEntries(report.files!.map((f) => [f.path, f.body]))).toEqual({ 'index.md': '\n# Index\n', 'day.md': '\nA quiet day.\n' });

    // A file the plugin leaves out (its front matter does not parse) is in the folder only.
    writeFile(a.dir, 'broken.md', '---\ntitle: [unclosed\n---\n\nText.\n');
    expect(await a.job.verify()).toContainEqual({ path: 'broken.md', problem: "in the folder, missing in this device's synced state" });
  }, 120_000);

  it('not in sync while the server holds an envelope the device never received; in sync again once it pulled it', async () => {
    const ws = await createEncryptedWorkspace(suite.server.server.url, suite.token);
    let a = await suite.device('a', ws);
    const note = entryText({ title: 'Note', body: '\nText.\n' });
    await a.job.waitUntilSynced(30_000);
    writeFile(a.dir, 'note.md', note);
    // The edit is picked up, sent and acknowledged.
    await waitFor(async () => (await a.job.verify()).length === 0, 'a in sync', 30_000);

    const head = withheldEnvelope(ws);
    expect(await a.job.verify()).toEqual([{ path: '', problem: `the file list: the server holds envelopes up to ${head}, this device applied up to ${head - 1}` }]);

    // The next connection pulls it.
    await stopDevice(a);
    suite.untrack(a);
    a = await suite.device('a', ws, { dir: a.dir, provision: false });
    await a.job.waitUntilSynced(30_000);
    expect(await a.job.verify()).toEqual([]);
  }, 120_000);

  it('offline: not connected, and nothing asked of the server', async () => {
    const ws = await createEncryptedWorkspace(suite.server.server.url, suite.token);
    const a = await suite.device('a', ws);
    await a.job.waitUntilSynced(30_000);
    await suite.stopServer();
    try {
      await waitForStatus(a, 'disconnected');
      const report = await check(a, { ask_server: true });
      expect(report).toMatchObject({ in_sync: false, problems: [{ doc: '', problem: 'not connected to the server' }] });
      expect(report.heads.answered).toBe(report.heads.asked);
    } finally {
      await suite.restartServer();
    }
  }, 120_000);

  it('refuses a plain workspace and unknown parameters, changing nothing', async () => {
    const ws = await createEncryptedWorkspace(suite.server.server.url, suite.token);
    const a = await suite.device('a', ws);
    const bad = await a.job.host.plugin.command('CheckEncryptedSync', { ask: true });
    expect(bad).toMatchObject({ success: false, error: 'Invalid parameter ask: CheckEncryptedSync takes ask_server, files' });
    await a.job.host.plugin.command('set_config', { workspace_id: 'some-plain-workspace' });
    const plain = await a.job.host.plugin.command('CheckEncryptedSync', {});
    expect(plain).toMatchObject({ success: false, error: 'Workspace some-plain-workspace is not end-to-end encrypted on this device: CheckEncryptedSync checks encrypted workspaces only' });
  }, 60_000);
});

async function waitForStatus(d: Device, status: string): Promise<void> {
  await waitFor(() => d.job.status === status, `status ${status} of ${d.name}`, 30_000);
}

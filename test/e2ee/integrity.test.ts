/**
 * What a device does with what a malicious or broken server serves for an
 * encrypted workspace (the rows of its storage changed under it): a flipped
 * byte or an envelope moved to another doc is rejected with the doc
 * unchanged and an error; a replayed envelope is ignored and reported; a
 * head rolled back is detected and the device sends its state again; a
 * deleted middle envelope is a gap of its writer; an envelope of an epoch the
 * device lacks waits for the unlock. And a locked workspace syncs nothing.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../common/src/e2ee/bytes';
import { rotateKey } from '../../common/src/e2ee/key-record';
import { DeviceKeys, loadDeviceKeys, lockDeviceKeys, saveDeviceKeys } from '../../plugin/src/e2ee/key-store';
import { entryText, readFile, stopDevice, tempDir, waitFor, waitForSameFolders, writeFile, type Device } from '../e2e/helpers';
import { createEncryptedWorkspace, deviceStorage, type EncryptedWorkspace } from '../helpers/e2ee-workspace';
import { encryptedSuite } from './suite';

const suite = encryptedSuite();

async function workspace(): Promise<EncryptedWorkspace> {
  return createEncryptedWorkspace(suite.server.server.url, suite.token);
}

function docIdOf(ws: EncryptedWorkspace, docName: string): string {
  return `e2e:${ws.workspaceId}/${DeviceKeys.fresh(ws.keys).tagOf(docName)}`;
}

function tagOf(ws: EncryptedWorkspace, docName: string): string {
  return DeviceKeys.fresh(ws.keys).tagOf(docName);
}

interface Row {
  seq: number;
  data: Buffer;
}

function rows(docId: string): Row[] {
  return suite.db((db) => db.prepare('SELECT seq, data FROM e2ee_envelopes WHERE doc_id = ? ORDER BY seq').all(docId) as Row[]);
}

/** Stores `data` as the doc's next envelope, as a server that replays or moves envelopes would. */
function appendRow(docId: string, data: Buffer): void {
  suite.db((db) => {
    const head = (db.prepare('SELECT head FROM e2ee_docs WHERE doc_id = ?').get(docId) as { head: number }).head;
    db.prepare('INSERT INTO e2ee_envelopes (doc_id, seq, data, client_key, created_at) VALUES (?, ?, ?, ?, ?)').run(docId, head + 1, data, crypto.randomBytes(24), Date.now());
    db.prepare('UPDATE e2ee_docs SET head = head + 1, log_count = log_count + 1 WHERE doc_id = ?').run(docId);
  });
}

function hasError(d: Device, message: string): boolean {
  return d.statuses.some((s) => s === `error: ${message}`);
}

async function twoDevices(ws: EncryptedWorkspace): Promise<[Device, Device]> {
  const a = await suite.device('a', ws);
  const b = await suite.device('b', ws);
  await Promise.all([a, b].map((d) => d.job.waitUntilSynced(30_000)));
  return [a, b];
}

describe('a changed envelope', () => {
  it('with a flipped byte is rejected: the doc keeps what it had and the error names the doc tag', async () => {
    const ws = await workspace();
    const [a, b] = await twoDevices(ws);
    writeFile(a.dir, 'f.md', entryText({ title: 'F', body: '\nkept line\n' }));
    await waitForSameFolders([a, b]);
    writeFile(a.dir, 'f.md', entryText({ title: 'F', body: '\nkept line\nflipped line\n' }));
    await waitForSameFolders([a, b]);
    const docId = docIdOf(ws, 'body/f.md');
    const last = rows(docId).at(-1)!;
    const flipped = Buffer.from(last.data);
    flipped[flipped.length - 20] ^= 0x01;
    suite.db((db) => db.prepare('UPDATE e2ee_envelopes SET data = ? WHERE doc_id = ? AND seq = ?').run(flipped, docId, last.seq));

    const c = await suite.device('c', ws);
    await c.job.waitUntilSynced(30_000);
    await waitFor(() => hasError(c, `Envelope rejected: ${tagOf(ws, 'body/f.md')}`), 'the rejection');
    const text = readFile(c.dir, 'f.md') ?? '';
    expect(text).toContain('kept line');
    expect(text).not.toContain('flipped line');
  });

  it('moved to another doc is rejected; replayed at a new seq it is ignored and reported', async () => {
    const ws = await workspace();
    const [a, b] = await twoDevices(ws);
    writeFile(a.dir, 'g.md', entryText({ title: 'G', body: '\ng body\n' }));
    writeFile(a.dir, 'h.md', entryText({ title: 'H', body: '\nh body\n' }));
    await waitForSameFolders([a, b]);
    const g = docIdOf(ws, 'body/g.md');
    const h = docIdOf(ws, 'body/h.md');
    appendRow(h, rows(g)[0].data);
    appendRow(g, rows(g)[0].data);

    const c = await suite.device('c', ws);
    await c.job.waitUntilSynced(30_000);
    await waitFor(() => hasError(c, `Envelope rejected: ${tagOf(ws, 'body/h.md')}`), 'the moved envelope to be rejected');
    await waitFor(() => hasError(c, `Replayed envelope ignored: ${tagOf(ws, 'body/g.md')}`), 'the replay to be reported');
    expect(readFile(c.dir, 'g.md')).toBe(readFile(a.dir, 'g.md'));
    expect(readFile(c.dir, 'h.md')).toBe(readFile(a.dir, 'h.md'));
  });
});

describe('a deleted middle envelope', () => {
  it('is reported as a gap of its writer; the rest is applied', async () => {
    const ws = await workspace();
    const [a, b] = await twoDevices(ws);
    let body = '\n';
    for (const line of ['one', 'two', 'three']) {
      body += `${line}\n`;
      writeFile(a.dir, 'm.md', entryText({ title: 'M', body }));
      await waitForSameFolders([a, b]);
    }
    const docId = docIdOf(ws, 'body/m.md');
    const all = rows(docId);
    expect(all.length).toBeGreaterThanOrEqual(3);
    suite.db((db) => db.prepare('DELETE FROM e2ee_envelopes WHERE doc_id = ? AND seq = ?').run(docId, all[1].seq));
    const writer = toHex(loadDeviceKeys(deviceStorage(a.dir), ws.workspaceId)!.deviceId);
    const c = await suite.device('c', ws);
    await c.job.waitUntilSynced(30_000);
    await waitFor(() => hasError(c, `Missing envelopes from ${writer}`), 'the gap to be reported');
    expect(readFile(c.dir, 'm.md') ?? '').toContain('one');
  });
});

describe('an envelope of an epoch the device lacks', () => {
  it('is not applied (Missing key for epoch 2) and waits: after the unlock with that epoch it goes in', async () => {
    const ws = await workspace();
    const rotated = rotateKey(ws.record, ws.keys, ws.passphrase).keys;
    // a holds epochs 1 and 2 and seals with 2; b holds epoch 1 only.
    const aDir = tempDir('a');
    saveDeviceKeys(deviceStorage(aDir), DeviceKeys.fresh(rotated));
    const a = await suite.device('a', ws, { dir: aDir, provision: false });
    const b = await suite.device('b', ws);
    await Promise.all([a, b].map((d) => d.job.waitUntilSynced(30_000)));
    writeFile(a.dir, 'new.md', entryText({ title: 'New', body: '\nsealed under epoch 2\n' }));
    await waitFor(() => hasError(b, 'Missing key for epoch 2'), 'b to lack the key');
    expect(readFile(b.dir, 'new.md')).toBeNull();
    // The unlock that brings epoch 2 (same device id and run), then a restart.
    await stopDevice(b);
    suite.untrack(b);
    const storage = deviceStorage(b.dir);
    saveDeviceKeys(storage, loadDeviceKeys(storage, ws.workspaceId)!.withKeys(rotated));
    const again = await suite.device('b', ws, { dir: b.dir, provision: false });
    await waitForSameFolders([a, again]);
    expect(readFile(again.dir, 'new.md')).toContain('sealed under epoch 2');
  });
});

describe('a rolled back server', () => {
  it('is detected by a device that saw more; it sends its state again and a new device gets everything', async () => {
    const ws = await workspace();
    const [a, b] = await twoDevices(ws);
    writeFile(a.dir, 'r.md', entryText({ title: 'R', body: '\nbefore\n' }));
    await waitForSameFolders([a, b]);
    const docId = docIdOf(ws, 'body/r.md');
    const keep = rows(docId).at(-1)!.seq;
    writeFile(b.dir, 'r.md', entryText({ title: 'R', body: '\nbefore\nlost by the rollback\n' }));
    await waitForSameFolders([a, b]);
    await Promise.all([a, b].map((d) => stopDevice(d)));
    [a, b].forEach((d) => suite.untrack(d));
    // An older copy of the database: the doc's last envelopes are gone.
    suite.db((db) => {
      const gone = db.prepare('DELETE FROM e2ee_envelopes WHERE doc_id = ? AND seq > ?').run(docId, keep).changes;
      db.prepare('UPDATE e2ee_docs SET head = ?, log_count = log_count - ? WHERE doc_id = ?').run(keep, gone, docId);
    });
    const again = await suite.device('a', ws, { dir: a.dir, provision: false });
    await waitFor(() => hasError(again, `Rollback detected: ${tagOf(ws, 'body/r.md')}`), 'the rollback to be detected');
    const c = await suite.device('c', ws);
    await waitFor(() => readFile(c.dir, 'r.md')?.includes('lost by the rollback'), 'the new device to get the lost line');
    await waitForSameFolders([again, c]);
  });
});

describe('a locked workspace', () => {
  it('never connects, so sends nothing, and its status says it is locked', async () => {
    const ws = await workspace();
    const dir = tempDir('locked');
    lockDeviceKeys(deviceStorage(dir), ws.workspaceId);
    writeFile(dir, 'secret.md', entryText({ title: 'Secret', body: '\nnot for the server\n' }));
    const d = await suite.device('locked', ws, { dir, provision: false });
    // Linked (server, workspace id and token set), yet no socket was asked for: it must not sync plain and cannot sync encrypted.
    await d.job.host.bridge!.idle();
    expect(d.job.host.bridge!.status()).toMatchObject({ state: 'idle', url: null, opens: 0, framesSent: 0 });
    const status = await d.job.host.plugin.command('GetSyncStatus', {});
    expect(status.data).toMatchObject({ encryption: 'locked', state: 'idle', label: 'Locked: unlock with the passphrase to sync' });
    const stored = suite.db((db) => (db.prepare('SELECT count(*) AS n FROM e2ee_docs WHERE workspace_id = ?').get(ws.workspaceId) as { n: number }).n);
    expect(stored).toBe(0);
  });
});

/**
 * Encrypted workspaces synced by the built plugin through the real server:
 * two devices sync files, folders and front matter byte for byte both ways,
 * offline edits converge, a restart resends what the server never
 * acknowledged, a third device bootstraps from a client snapshot and the
 * tail, and the server's rows hold envelopes, not the text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pluginStorageDir } from '../../host-harness/src/workspace-host';
import { storageKeyEntry } from '../../plugin/src/persistence';
import { DeviceKeys } from '../../plugin/src/e2ee/key-store';
import { docStateKey } from '../../plugin/src/e2ee/doc-state';
import { crashDevice, entryText, readFile, stopDevice, tempDir, waitFor, waitForSameFolders, waitLocalSeen, writeFile, type Device } from '../e2e/helpers';
import { createEncryptedWorkspace, deviceStorage, type EncryptedWorkspace } from '../helpers/e2ee-workspace';
import { encryptedSuite } from './suite';

const suite = encryptedSuite({ compactAfterUpdates: 6 });

async function synced(...all: Device[]): Promise<void> {
  await Promise.all(all.map((d) => d.job.waitUntilSynced(30_000)));
}

function errors(d: Device): string[] {
  return d.statuses.filter((s) => s.startsWith('error'));
}

async function workspace(): Promise<EncryptedWorkspace> {
  return createEncryptedWorkspace(suite.server.server.url, suite.token);
}

/** Files written into device folders, the model every folder must equal. */
class Files {
  readonly all: Record<string, string> = {};
  put(d: Device, rel: string, text: string): void {
    writeFile(d.dir, rel, text);
    this.all[rel] = text;
  }
  move(d: Device, from: string, to: string): void {
    fs.mkdirSync(path.dirname(path.join(d.dir, to)), { recursive: true });
    fs.renameSync(path.join(d.dir, from), path.join(d.dir, to));
    this.all[to] = this.all[from];
    delete this.all[from];
  }
  remove(d: Device, rel: string): void {
    fs.rmSync(path.join(d.dir, rel));
    delete this.all[rel];
  }
}

/** Every stored byte of the server for a workspace's encrypted docs, as latin1 text for searching. */
function storedText(ws: EncryptedWorkspace): string {
  return suite.db((db) => {
    const rows = db.prepare('SELECT data FROM e2ee_envelopes WHERE doc_id LIKE ?').all(`e2e:${ws.workspaceId}/%`) as { data: Buffer }[];
    const snaps = db.prepare('SELECT snapshot FROM e2ee_docs WHERE doc_id LIKE ? AND snapshot IS NOT NULL').all(`e2e:${ws.workspaceId}/%`) as { snapshot: Buffer }[];
    return [...rows.map((r) => r.data), ...snaps.map((s) => s.snapshot)].map((b) => b.toString('latin1')).join('\n');
  });
}

describe('two devices on an encrypted workspace', () => {
  it('sync files, folders, front matter, renames, moves and deletes byte for byte, both ways; the server stores envelopes only', async () => {
    const ws = await workspace();
    const a = await suite.device('a', ws);
    const b = await suite.device('b', ws);
    await synced(a, b);
    const f = new Files();
    f.put(a, 'index.md', entryText({ title: 'Index', contents: ['[Day](/days/day.md)'], body: '\n# Index of plainly secret things\n' }));
    f.put(a, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', extra: { mood: 'calm' }, body: '\nMorning walk by the canary river.\n' }));
    await waitForSameFolders([a, b], f.all);
    f.put(b, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', extra: { mood: 'tired' }, body: '\nMorning walk by the canary river.\nEvening, from b.\n' }));
    await waitForSameFolders([a, b], f.all);
    f.put(a, 'notes/idea.md', entryText({ title: 'Idea', body: '\nAn idea.\n' }));
    f.put(b, 'todo.md', entryText({ title: 'Todo', body: '\n- [ ] test\n' }));
    await waitForSameFolders([a, b], f.all);
    // Rename, move to another folder, delete.
    f.move(b, 'todo.md', 'done/todo.md');
    f.remove(a, 'notes/idea.md');
    await waitForSameFolders([a, b], f.all);
    f.put(a, 'done/todo.md', entryText({ title: 'Todo', body: '\n- [x] test\n' }));
    await waitForSameFolders([a, b], f.all);
    expect(errors(a)).toEqual([]);
    expect(errors(b)).toEqual([]);

    const stored = storedText(ws);
    expect(stored.length).toBeGreaterThan(0);
    for (const plain of ['canary river', 'Evening, from b', 'days/day.md', 'idea.md', 'mood', 'part_of', 'Index of plainly']) expect(stored).not.toContain(plain);
    // Every key the devices stored is in STORAGE_KEYS, the doc states and the change number among them.
    const keys = fs.readdirSync(pluginStorageDir(a.dir)).filter((n) => !n.startsWith('.') && !n.includes('~')).map((n) => Buffer.from(n.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));
    expect(keys.filter((k) => storageKeyEntry(k) === null)).toEqual([]);
    expect(keys).toContain(`e2ee-doc:${ws.workspaceId}/body/days/day.md`);
    expect(keys).toContain(`e2ee-changes:${ws.workspaceId}`);
    // Nothing of the workspace went into the plain tables.
    const plainRows = suite.db(
      (db) =>
        (db.prepare('SELECT (SELECT count(*) FROM doc_updates WHERE doc_id LIKE ?) + (SELECT count(*) FROM doc_snapshots WHERE doc_id LIKE ?) AS n').get(`%${ws.workspaceId}%`, `%${ws.workspaceId}%`) as { n: number }).n,
    );
    expect(plainRows).toBe(0);
  });

  it('offline edits on two devices converge', async () => {
    const ws = await workspace();
    let a = await suite.device('a', ws);
    let b = await suite.device('b', ws);
    await synced(a, b);
    const f = new Files();
    f.put(a, 'shared.md', entryText({ title: 'Shared', body: '\nline one\nline two\n' }));
    await waitForSameFolders([a, b], f.all);
    await stopDevice(a);
    await stopDevice(b);
    suite.untrack(a);
    suite.untrack(b);
    f.put(a, 'from-a.md', entryText({ title: 'From A', body: '\nwritten offline on a\n' }));
    f.put(b, 'from-b.md', entryText({ title: 'From B', body: '\nwritten offline on b\n' }));
    writeFile(a.dir, 'shared.md', entryText({ title: 'Shared', body: '\nline one, a\nline two\n' }));
    writeFile(b.dir, 'shared.md', entryText({ title: 'Shared', body: '\nline one\nline two, b\n' }));
    a = await suite.device('a', ws, { dir: a.dir, provision: false });
    b = await suite.device('b', ws, { dir: b.dir, provision: false });
    const same = await waitForSameFolders([a, b]);
    expect(same['from-a.md']).toBe(f.all['from-a.md']);
    expect(same['from-b.md']).toBe(f.all['from-b.md']);
    expect(same['shared.md']).toContain('line one, a');
    expect(same['shared.md']).toContain('line two, b');
  });

  /** Devices a and b with `note.md` synced, then the server stopped and a offline. */
  async function offlineWithNote(body: string) {
    const ws = await workspace();
    const a = await suite.device('a', ws);
    const b = await suite.device('b', ws);
    await synced(a, b);
    const f = new Files();
    f.put(a, 'note.md', entryText({ title: 'Note', body }));
    await waitForSameFolders([a, b], f.all);
    await suite.stopServer();
    await waitFor(() => a.job.status === 'disconnected' || a.statuses.includes('disconnected'), 'a to lose the server');
    return { ws, a, b, f };
  }

  /** The stored dirty mark of a's `note.md`, then a crash, the server back, a started again: b must get what a holds. */
  async function crashMarkedThenRestart(ws: EncryptedWorkspace, a: Device, b: Device, f: Files): Promise<void> {
    const stored = deviceStorage(a.dir).storageGet(docStateKey(ws.workspaceId, 'body/note.md'));
    expect(JSON.parse(new TextDecoder().decode(stored!)).dirty).toBe(true);
    await crashDevice(a);
    suite.untrack(a);
    await suite.restartServer();
    const again = await suite.device('a', ws, { dir: a.dir, provision: false });
    await waitForSameFolders([again, b], f.all);
  }

  it('a restart sends the edits the server never acknowledged', async () => {
    const { ws, a, b, f } = await offlineWithNote('\nfirst\n');
    f.put(a, 'note.md', entryText({ title: 'Note', body: '\nfirst\nsecond, never acknowledged\n' }));
    await waitLocalSeen(a, ['note.md']);
    // The edit is marked unacknowledged in storage before the device goes down.
    await crashMarkedThenRestart(ws, a, b, f);
  });

  it('an offline deletion whose mark storage refused is marked by the next save of its doc, and a restart sends it', async () => {
    const { ws, a, b, f } = await offlineWithNote('\nkeep this\ndrop this\n');
    // Storage refuses while the deletion is sealed: neither the doc nor its mark is stored then.
    const functions = a.job.host.functions;
    const storageSet = functions.host_storage_set;
    functions.host_storage_set = () => 'host_storage_set: No space left on device';
    f.put(a, 'note.md', entryText({ title: 'Note', body: '\nkeep this\n' }));
    await waitLocalSeen(a, ['note.md']);
    functions.host_storage_set = storageSet;
    // A save that is not the session's own (here a command; an autosave or a shutdown alike)
    // stores the doc, and its mark with it. The doc comes back with the deletion, which no state
    // vector shows: the mark sends it.
    expect((await a.job.host.plugin.command('SaveAllBodyDocs', {})).success).toBe(true);
    await crashMarkedThenRestart(ws, a, b, f);
  });
});

describe('a folder linked to an empty encrypted workspace', () => {
  it('sends its whole state, and another device gets every file', async () => {
    const ws = await workspace();
    const dir = tempDir('existing');
    const f: Record<string, string> = {};
    for (let i = 0; i < 12; i++) {
      const rel = i % 3 === 0 ? `folder ${i}/entry ${i}.md` : `entry ${i}.md`;
      f[rel] = entryText({ title: `Entry ${i}`, extra: { n: String(i) }, body: `\nText of entry ${i}.\n` });
      writeFile(dir, rel, f[rel]);
    }
    const a = await suite.device('a', ws, { dir });
    await synced(a);
    const b = await suite.device('b', ws);
    await waitForSameFolders([a, b], f);
    // Edits made at the same moment on both sides of one file merge.
    writeFile(a.dir, 'entry 1.md', entryText({ title: 'Entry 1', extra: { n: '1' }, body: '\nFrom a.\nText of entry 1.\n' }));
    writeFile(b.dir, 'entry 2.md', entryText({ title: 'Entry 2', extra: { n: '2' }, body: '\nText of entry 2.\nFrom b.\n' }));
    const same = await waitForSameFolders([a, b]);
    expect(same['entry 1.md']).toContain('From a.');
    expect(same['entry 2.md']).toContain('From b.');
    expect(errors(a)).toEqual([]);
    expect(errors(b)).toEqual([]);
  });
});

describe('a third device', () => {
  it('bootstraps from a client snapshot and the tail', async () => {
    const ws = await workspace();
    const a = await suite.device('a', ws);
    const b = await suite.device('b', ws);
    await synced(a, b);
    const f = new Files();
    let body = '\n';
    for (let i = 0; i < 10; i++) {
      body += `line ${i}\n`;
      f.put(i % 2 === 0 ? a : b, 'log.md', entryText({ title: 'Log', body }));
      await waitForSameFolders([a, b], f.all);
    }
    const tag = DeviceKeys.fresh(ws.keys).tagOf('body/log.md');
    const docId = `e2e:${ws.workspaceId}/${tag}`;
    await waitFor(() => suite.db((db) => (db.prepare('SELECT snap_seq FROM e2ee_docs WHERE doc_id = ?').get(docId) as { snap_seq: number }).snap_seq > 0), 'a client snapshot of log.md');
    body += 'after the snapshot\n';
    f.put(a, 'log.md', entryText({ title: 'Log', body }));
    await waitForSameFolders([a, b], f.all);
    const c = await suite.device('c', ws);
    await waitForSameFolders([a, b, c], f.all);
    expect(errors(c)).toEqual([]);

    // The same snapshot with one byte flipped: a fourth device rejects it and holds none of its text.
    suite.db((db) => {
      const snap = Buffer.from((db.prepare('SELECT snapshot FROM e2ee_docs WHERE doc_id = ?').get(docId) as { snapshot: Buffer }).snapshot);
      snap[snap.length - 30] ^= 0x80;
      db.prepare('UPDATE e2ee_docs SET snapshot = ? WHERE doc_id = ?').run(snap, docId);
    });
    const d = await suite.device('d', ws);
    await d.job.waitUntilSynced(30_000);
    await waitFor(() => d.statuses.includes(`error: Envelope rejected: ${tag}`), 'the snapshot to be rejected');
    expect(readFile(d.dir, 'log.md') ?? '').not.toContain('line 0');
  });
});

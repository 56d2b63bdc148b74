import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openEnvelope } from '../../../common/src/e2ee/envelope';
import { decodeSyncMessages } from '../../../common/src/wire/sync';
import { BODY_TEXT_NAME } from '../../../common/src/workspace/schema';
import { MemoryDocs } from '../sync/testing/memory-docs';
import { Appends } from './appends';
import { DocStateStore } from './doc-state';
import { DeviceKeys, type KeyStorage } from './key-store';
import { Outbox } from './outbox';
import { raiseByUpdate } from './state-vectors';

const WS = 'ws-appends';
const ROOT = new Map([[1, new Uint8Array(32).fill(3)]]);

/** Storage in memory whose writes fail while `refusing` is set. */
function flakyStorage(): KeyStorage & { refusing: boolean } {
  const map = new Map<string, Uint8Array>();
  const s = {
    refusing: false,
    storageGet: (k: string) => map.get(k) ?? null,
    storageSet: (k: string, v: Uint8Array) => {
      if (s.refusing) throw new Error('host_storage_set: No space left on device');
      map.set(k, v);
    },
  };
  return s;
}

function setUp() {
  const docs = new MemoryDocs(WS, 5);
  const storage = flakyStorage();
  const keys = DeviceKeys.fresh({ workspaceId: WS, epoch: 1, rootKeys: ROOT });
  const outbox = new Outbox(keys, storage);
  const store = new DocStateStore(storage, WS, () => {});
  const appends = new Appends({ docs, saveDocs: () => {}, isDocStored: () => true, log: () => {} }, store, outbox);
  const tag = keys.tagOf('workspace');
  /** The local updates of the workspace doc queued since the last call. */
  const drain = () => docs.drainLocalUpdates().flatMap((u) => decodeSyncMessages(u.data).flatMap((m) => (m.kind === 'update' ? [m.update] : [])));
  const open = (env: Uint8Array) => openEnvelope(env, { workspaceId: WS, docTag: tag }, (e) => outbox.deviceKeys.docKey(e, tag)).payload;
  return { docs, storage, appends, outbox, store, tag, drain, open };
}

describe('appends', () => {
  it('keeps a local update whose sealing failed and sends it merged into the next Append of its doc', () => {
    const { docs, storage, appends, tag, drain, open } = setUp();
    storage.refusing = true;
    docs.addFile('a.md');
    const [first] = drain();
    // The new run cannot be stored: nothing may be sealed under it.
    expect(() => appends.add('workspace', tag, first)).toThrow(/No space left/);
    expect(appends.unsealedNames()).toEqual(['workspace']);
    storage.refusing = false;
    docs.addFile('b.md');
    const [second] = drain();
    const sent = appends.add('workspace', tag, second);
    expect(appends.unsealedNames()).toEqual([]);
    const elsewhere = new Y.Doc();
    Y.applyUpdate(elsewhere, open(sent.env));
    expect([...elsewhere.getMap('files').keys()].sort()).toEqual(['a.md', 'b.md']);
    expect(elsewhere.store.pendingStructs).toBeNull();
  });

  it('a doc whose local changes still wait in the queue, a deletion alone too, holds changes the server lacks', () => {
    const { docs, appends, store } = setUp();
    docs.editBody('a.md', 'keep this, drop this');
    const state = store.get('body/a.md');
    for (const u of docs.drainLocalUpdates()) {
      for (const m of decodeSyncMessages(u.data)) if (m.kind === 'update') state.serverSV = raiseByUpdate(state.serverSV, m.update);
    }
    expect(appends.unsentHere('body/a.md', state)).toBe(false);
    const body = docs.body('a.md');
    body.transact(() => body.getText(BODY_TEXT_NAME).delete(9, 11), 'local');
    expect(appends.unsentHere('body/a.md', state)).toBe(true);
    docs.drainLocalUpdates();
    expect(appends.unsentHere('body/a.md', state)).toBe(false);
  });

  it('an acknowledgement moves the cursor to its seq, but not while a Pull of the doc is out (its answer holds the envelope)', () => {
    const { docs, appends, store, tag, drain } = setUp();
    docs.addFile('a.md');
    const first = appends.add('workspace', tag, drain()[0]);
    docs.addFile('b.md');
    const second = appends.add('workspace', tag, drain()[0]);
    expect(appends.appended('workspace', first.req, 1)).toMatchObject({ gap: false });
    expect(store.get('workspace').cursor).toBe(1);
    expect(appends.appended('workspace', second.req, 2, true)).toMatchObject({ gap: false });
    expect(store.get('workspace').cursor).toBe(1);
  });

  it('at a first head, sends nothing a waiting Append carries, and what was never sealed', () => {
    const { docs, appends, store, tag, drain, open } = setUp();
    docs.addFile('shown.md');
    const [shown] = drain();
    const state = store.get('workspace');
    state.serverSV = raiseByUpdate(state.serverSV, shown);
    docs.addFile('waiting.md');
    appends.add('workspace', tag, drain()[0]);
    // Offline edits waiting for the connection: nothing more to send.
    expect(appends.catchUpUpdate('workspace', state, false)).toBeNull();

    // Edited, its Append lost with a crash: in the doc, nowhere else.
    docs.addFile('lost.md');
    const [lost] = drain();
    const catchUp = appends.catchUpUpdate('workspace', state, false);
    expect(catchUp).not.toBeNull();
    const clocks = (u: Uint8Array) => Y.decodeUpdate(u).structs.map((st) => [st.id.client, st.id.clock, st.length]);
    expect(clocks(catchUp!)).toEqual(clocks(lost));
    const server = new Y.Doc();
    Y.applyUpdate(server, shown);
    Y.applyUpdate(server, open(appends.outbox.waiting()[0].env));
    Y.applyUpdate(server, catchUp!);
    expect(server.store.pendingStructs).toBeNull();
    expect([...server.getMap('files').keys()].sort()).toEqual(['lost.md', 'shown.md', 'waiting.md']);
  });

  it('an acknowledgement of a newer Append keeps a doc an earlier run left dirty until its catch-up is worked out', () => {
    const { docs, appends, store, tag, drain } = setUp();
    docs.addFile('x.md');
    const state = store.get('workspace');
    state.serverSV = raiseByUpdate(state.serverSV, drain()[0]);
    // The earlier run deleted it and crashed before sending: a deletion only, no struct past the server's.
    docs.files.delete('x.md');
    drain();
    store.dirtyOnLoad.add('workspace');
    state.dirty = true;
    docs.addFile('new.md');
    const sent = appends.add('workspace', tag, drain()[0]);
    expect(appends.appended('workspace', sent.req, 2)?.gap).toBe(true);
    expect(state.dirty).toBe(true);
    const catchUp = appends.catchUpUpdate('workspace', state, false);
    expect(catchUp).not.toBeNull();
    expect(Y.decodeUpdate(catchUp!).ds.clients.get(5)?.length).toBe(1);
    expect(store.dirtyOnLoad.has('workspace')).toBe(false);
  });
});

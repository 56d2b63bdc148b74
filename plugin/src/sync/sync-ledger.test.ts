import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { SyncLedger } from './sync-ledger';
import { MemoryDocs } from './testing/memory-docs';

describe('SyncLedger', () => {
  it('a body answered by the server is unchanged until edited; a full update makes it the baseline again', () => {
    const docs = new MemoryDocs('w', 1);
    const told: string[] = [];
    const ledger = new SyncLedger((key) => told.push(key));
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(true); // no body doc
    docs.editBody('a.md', 'x');
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(true); // never synced
    ledger.markBodySynced(docs, 'a.md');
    expect(told).toEqual(['a.md']);
    expect(ledger.isBodySynced('a.md')).toBe(true);
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(false);
    docs.editBody('a.md', 'xy');
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(true);
    const full = ledger.encodeBodyFullUpdate(docs, 'a.md');
    expect(full).toEqual(Y.encodeStateAsUpdate(docs.body('a.md')));
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(false);
    expect(ledger.encodeBodyFullUpdate(docs, 'none.md')).toBeNull();
  });

  it('a remote apply recorded as the baseline is not a local change', () => {
    const docs = new MemoryDocs('w', 1);
    const peer = new Y.Doc();
    peer.getText('body').insert(0, 'remote');
    docs.applyBodyUpdates('a.md', [Y.encodeStateAsUpdate(peer)], { writeToDisk: false, focused: true });
    const ledger = new SyncLedger();
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(true);
    ledger.recordBaseline(docs, 'a.md');
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(false);
  });

  it('a reset forgets answered bodies, baselines and the workspace sync', () => {
    const docs = new MemoryDocs('w', 1);
    docs.editBody('a.md', 'x');
    const ledger = new SyncLedger();
    ledger.markBodySynced(docs, 'a.md');
    ledger.markBodySynced(docs, 'b.md');
    ledger.workspaceSynced = true;
    ledger.clearBodySynced('b.md');
    expect(ledger.syncedBodies()).toEqual(['a.md']);
    ledger.reset();
    expect(ledger.syncedBodies()).toEqual([]);
    expect(ledger.workspaceSynced).toBe(false);
    expect(ledger.bodyChangedSinceSync(docs, 'a.md')).toBe(true);
  });
});

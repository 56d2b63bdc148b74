import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeSyncStep1, encodeSyncUpdate } from '../../common/src/wire/sync';
import { handshakeReplies, isFreshClient, resolveDocTarget } from './handshake';

describe('resolveDocTarget', () => {
  it('routes workspace, body and legacy ids and refuses the rest', () => {
    expect(resolveDocTarget('workspace:ws1')).toEqual({ kind: 'workspace', workspaceId: 'ws1' });
    expect(resolveDocTarget('body:ws1/notes/a.md')).toEqual({ kind: 'body', workspaceId: 'ws1', key: 'notes/a.md' });
    expect(resolveDocTarget('ws1')).toEqual({ kind: 'legacy', workspaceId: 'ws1' });
    for (const bad of ['workspace:', 'body:ws1', 'body:ws1/', 'body:/a.md', 'other:x', 'a\u0001b']) expect(resolveDocTarget(bad)).toBeNull();
  });
});

describe('isFreshClient', () => {
  it('is true only for a first SyncStep1 with an empty state vector', () => {
    const empty = new Y.Doc();
    const full = new Y.Doc();
    full.getMap('files').set('a', 'b');
    expect(isFreshClient(encodeSyncStep1(Y.encodeStateVector(empty)))).toBe(true);
    expect(isFreshClient(encodeSyncStep1(Y.encodeStateVector(full)))).toBe(false);
    expect(isFreshClient(encodeSyncUpdate(Y.encodeStateAsUpdate(full)))).toBe(false);
    expect(isFreshClient(new Uint8Array([9, 9]))).toBe(false);
  });
});

describe('handshakeReplies', () => {
  it('omits crdt_state for an empty doc', () => {
    expect(handshakeReplies(new Y.Doc())).toEqual(['{"files_synced":0,"type":"sync_complete"}']);
  });
});

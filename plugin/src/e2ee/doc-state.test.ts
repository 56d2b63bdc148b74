import { describe, expect, it } from 'vitest';
import { DocState, DocStateStore, docStateKey, relayAction } from './doc-state';

function memoryStorage() {
  const map = new Map<string, Uint8Array>();
  return { map, storageGet: (key: string) => map.get(key) ?? null, storageSet: (key: string, data: Uint8Array) => void map.set(key, data) };
}

describe('cursor', () => {
  it('applies a relay at cursor + 1, skips one at or below, pulls past a gap', () => {
    expect(relayAction(0, 1)).toBe('apply');
    expect(relayAction(5, 6)).toBe('apply');
    expect(relayAction(5, 5)).toBe('skip');
    expect(relayAction(5, 2)).toBe('skip');
    expect(relayAction(5, 7)).toBe('pull');
  });
});

describe('doc state', () => {
  it('round-trips through JSON', () => {
    const s = new DocState();
    s.cursor = 7;
    s.head = 9;
    s.snapId = new Uint8Array(16).fill(3);
    s.snapSeq = 4;
    s.writers.record('ab'.repeat(16), 2, 3, 7);
    s.serverSV = Uint8Array.of(1, 5, 2);
    s.dirty = true;
    const back = DocState.fromJson(s.toJson());
    expect(back.toJson()).toBe(s.toJson());
    expect(back.writers.get('ab'.repeat(16), 2)?.seq).toBe(7);
    // Counters 1 and 2 were skipped: kept, so a late one fills the gap after a restart too.
    expect(back.writers.get('ab'.repeat(16), 2)?.missing).toEqual([1, 2]);
  });

  it.each([
    ['version', '{"v":2}'],
    ['cursor', '{"v":1,"cursor":-1,"head":0,"snapSeq":0,"snapId":null,"writers":[],"serverSV":"AA==","dirty":false}'],
    ['writer', '{"v":1,"cursor":0,"head":0,"snapSeq":0,"snapId":null,"writers":[["xx",1,1,1]],"serverSV":"AA==","dirty":false}'],
    ['skipped counter', `{"v":1,"cursor":0,"head":0,"snapSeq":0,"snapId":null,"writers":[["${'ab'.repeat(16)}",1,3,1,[-1]]],"serverSV":"AA==","dirty":false}`],
  ])('refuses a stored state with a bad %s', (_what, text) => {
    expect(() => DocState.fromJson(text)).toThrow();
  });

  it('an unreadable stored state starts over, dirty, with a warning', () => {
    const storage = memoryStorage();
    storage.map.set(docStateKey('w', 'workspace'), new TextEncoder().encode('nope'));
    const warnings: string[] = [];
    const store = new DocStateStore(storage, 'w', (m) => warnings.push(m));
    const s = store.get('workspace');
    expect(s.cursor).toBe(0);
    expect(s.dirty).toBe(true);
    expect(store.dirtyOnLoad.has('workspace')).toBe(true);
    expect(warnings[0]).toContain('e2ee-doc:w/workspace');
  });

  it('writes a state only once its doc is stored; the change number only when nothing waits', () => {
    const storage = memoryStorage();
    const store = new DocStateStore(storage, 'w', () => {});
    store.get('body/a.md').cursor = 3;
    store.touch('body/a.md');
    store.setWorkspaceChangeNo(12);
    store.flush(() => false);
    expect(storage.map.size).toBe(0);
    store.flush(() => true);
    expect(DocState.fromJson(new TextDecoder().decode(storage.map.get(docStateKey('w', 'body/a.md')))).cursor).toBe(3);
    expect(new TextDecoder().decode(storage.map.get('e2ee-changes:w'))).toBe('{"v":1,"changeNo":12}');
    expect(new DocStateStore(storage, 'w', () => {}).workspaceChangeNo).toBe(12);
  });

  it('docs stored with local changes not sealed yet are stored dirty: a restart sees them as unsent', () => {
    const storage = memoryStorage();
    const store = new DocStateStore(storage, 'w', () => {});
    store.get('body/a.md').cursor = 3;
    store.docsStored(['body/a.md'], (name) => name === 'body/a.md');
    const again = new DocStateStore(storage, 'w', () => {});
    expect(again.get('body/a.md')).toMatchObject({ dirty: true, cursor: 3 });
    expect(again.dirtyOnLoad.has('body/a.md')).toBe(true);
    // A doc not stored yet keeps its mark for the save that stores it.
    store.docsStored(['body/b.md'], () => false);
    expect(storage.map.has(docStateKey('w', 'body/b.md'))).toBe(false);
    store.docsStored([], () => true);
    expect(DocState.fromJson(new TextDecoder().decode(storage.map.get(docStateKey('w', 'body/b.md')))).dirty).toBe(true);
  });
});

import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { emptyMetadata, serializeMetadata, type FileMetadata } from '../../../common/src/workspace/metadata';
import {
  ORIGIN_LOCAL,
  ORIGIN_REMOTE,
  ORIGIN_SYNC,
  WorkspaceCrdt,
  WorkspaceCrdtError,
  type UpdateOrigin,
} from './workspace-crdt';

const T = 1773489600000;

function meta(fields: Partial<FileMetadata> = {}): FileMetadata {
  return { ...emptyMetadata(''), modified_at: T, ...fields };
}

/** Two replicas sharing the state of `a`. */
function pair(): [WorkspaceCrdt, WorkspaceCrdt] {
  const a = new WorkspaceCrdt();
  const b = new WorkspaceCrdt();
  return [a, b];
}

/** A replica with a fixed Yjs client id (the id orders concurrent writes to one key). */
function replica(clientID: number): WorkspaceCrdt {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  return new WorkspaceCrdt(doc);
}

function sync(from: WorkspaceCrdt, to: WorkspaceCrdt, origin: UpdateOrigin = ORIGIN_REMOTE) {
  return to.applyUpdate(from.encodeState(), origin);
}

describe('origins', () => {
  it('are distinct', () => {
    expect(new Set([ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC]).size).toBe(3);
  });
});

describe('files map', () => {
  it('stores FileMetadata JSON strings under canonical keys', () => {
    const ws = new WorkspaceCrdt();
    ws.setFile('./notes/a.md', meta({ title: 'A' }));
    const raw = ws.doc.getMap('files');
    expect([...raw.keys()]).toEqual(['notes/a.md']);
    expect(raw.get('notes/a.md')).toBe(serializeMetadata(meta({ title: 'A' })));
    expect(ws.getFile('notes/a.md')?.title).toBe('A');
    expect(ws.getFile('/notes/a.md')?.title).toBe('A');
  });

  it('removes alias keys on set', () => {
    const ws = new WorkspaceCrdt();
    const raw = ws.doc.getMap<string>('files');
    raw.set('./a.md', serializeMetadata(meta({ title: 'dotted' })));
    raw.set('/a.md', serializeMetadata(meta({ title: 'rooted' })));
    expect(ws.getFile('a.md')?.title).toBe('dotted');
    ws.setFile('a.md', meta({ title: 'canonical' }));
    expect([...raw.keys()].sort()).toEqual(['a.md']);
  });

  it('never inserts temp files', () => {
    const ws = new WorkspaceCrdt();
    expect(ws.setFile('a.md.tmp', meta())).toBe(false);
    expect(ws.setFile('a.md.bak', meta())).toBe(false);
    expect(ws.setFile('x.swap', meta())).toBe(false);
    expect(ws.rawSize()).toBe(0);
    expect(() => ws.setFile('/', meta())).toThrow(WorkspaceCrdtError);
  });

  it('soft-deletes with the given time, keeping the rest', () => {
    const ws = new WorkspaceCrdt();
    ws.setFile('a.md', meta({ title: 'A', part_of: 'README.md' }));
    const tomb = ws.deleteFile('a.md', () => T + 10);
    expect(tomb).toEqual(meta({ title: 'A', part_of: 'README.md', deleted: true, modified_at: T + 10 }));
    expect(ws.getFile('a.md')).toEqual(tomb);
    expect(ws.activeKeys()).toEqual([]);
    expect(ws.listFiles({ includeDeleted: true }).map(([k]) => k)).toEqual(['a.md']);
    expect(
      ws.deleteFile('a.md', () => {
        throw new Error('no clock');
      })?.modified_at,
    ).toBe(T + 11);
    expect(ws.deleteFile('missing.md', () => 1)).toBeNull();
  });

  it('lists sorted entries with alias dedupe', () => {
    const ws = new WorkspaceCrdt();
    const raw = ws.doc.getMap<string>('files');
    ws.doc.transact(() => {
      raw.set('b.md', serializeMetadata(meta({ title: 'old', modified_at: 1 })));
      raw.set('./b.md', serializeMetadata(meta({ title: 'new', modified_at: 2 })));
      raw.set('c.md', serializeMetadata(meta({ title: 'dead', modified_at: 5, deleted: true })));
      raw.set('/c.md', serializeMetadata(meta({ title: 'alive', modified_at: 5 })));
      raw.set('a.md', serializeMetadata(meta({ title: 'a' })));
      raw.set('bad.md', '{"title":[1]}');
      raw.set('junk.md', 'not json');
      raw.set('x.md.tmp', serializeMetadata(meta()));
    });
    expect(ws.listFiles({ includeDeleted: true }).map(([k, m]) => [k, m.title])).toEqual([
      ['a.md', 'a'],
      ['b.md', 'new'],
      ['c.md', 'alive'],
    ]);
  });

  it('reads lenient JSON written by other peers', () => {
    const ws = new WorkspaceCrdt();
    ws.doc.getMap<string>('files').set('n.md', '{"title":2025,"modified_at":3}');
    expect(ws.getFile('n.md')).toEqual(meta({ title: '2025', modified_at: 3 }));
  });
});

describe('updates', () => {
  it('reports local transactions only through onLocalUpdate, and they converge', () => {
    const [a, b] = pair();
    const local: Uint8Array[] = [];
    const all: [UpdateOrigin, string[]][] = [];
    a.onLocalUpdate((u) => local.push(u));
    a.onUpdate((_u, origin, keys) => all.push([origin, keys]));
    a.setFile('x.md', meta({ title: 'X' }));
    a.setFile('x.md', meta({ title: 'X' }));
    expect(local.length).toBe(2);
    for (const u of local) b.applyUpdate(u, ORIGIN_REMOTE);
    expect(b.getFile('x.md')?.title).toBe('X');

    b.setFile('y.md', meta({ title: 'Y' }));
    a.applyUpdate(b.encodeDiff(a.stateVector()), ORIGIN_REMOTE);
    expect(local.length).toBe(2);
    expect(all).toEqual([
      ['local', ['x.md']],
      ['local', []],
      ['remote', ['y.md']],
    ]);
    expect(Y.encodeStateVector(a.doc)).toEqual(Y.encodeStateVector(b.doc));
  });

  it('rejects empty and malformed updates', () => {
    const ws = new WorkspaceCrdt();
    expect(() => ws.applyUpdate(new Uint8Array(0), ORIGIN_REMOTE)).toThrow(WorkspaceCrdtError);
    expect(() => ws.applyUpdate(Uint8Array.of(5, 200, 1), ORIGIN_REMOTE)).toThrow(WorkspaceCrdtError);
    expect(() => ws.applyUpdate(Uint8Array.of(5, 200, 1), ORIGIN_LOCAL)).toThrow(WorkspaceCrdtError);
  });
});

describe('applyUpdate change tracking', () => {
  it('reports created files but not pre-existing tombstones', () => {
    const [a, b] = pair();
    a.setFile('active.md', meta({ title: 'Active' }));
    a.setFile('old-deleted.md', meta({ title: 'Old Deleted' }));
    a.deleteFile('old-deleted.md', () => T + 1);
    sync(a, b);
    b.setFile('new-file.md', meta({ title: 'New File' }));
    const { changed } = sync(b, a);
    expect(changed).toEqual(['new-file.md']);
  });

  it('reports newly deleted, restored and content-changed keys', () => {
    const [a, b] = pair();
    a.setFile('shared.md', meta({ title: 'Shared' }));
    a.setFile('edit.md', meta({ title: 'E' }));
    a.setFile('gone.md', meta({ title: 'G', deleted: true }));
    sync(a, b);
    b.deleteFile('shared.md', () => T + 1);
    b.setFile('edit.md', meta({ title: 'E2' }));
    b.setFile('gone.md', meta({ title: 'G' }));
    b.setFile('touch.md', meta({ title: 'T', deleted: true }));
    const r = a.applyUpdate(b.encodeDiff(a.stateVector()), ORIGIN_REMOTE);
    expect(r.changed).toEqual(['gone.md', 'shared.md', 'touch.md', 'edit.md']);
    expect(r.renames).toEqual([]);
  });

  it('ignores modified_at-only changes (reported apart, as retimed)', () => {
    const [a, b] = pair();
    a.setFile('a.md', meta({ title: 'A' }));
    sync(a, b);
    b.setFile('a.md', meta({ title: 'A', modified_at: T + 99 }));
    const r = sync(b, a);
    expect(r.changed).toEqual([]);
    expect(r.retimed).toEqual(['a.md']);
  });

  it('reports created and restored keys as appeared', () => {
    const [a, b] = pair();
    a.setFile('a.md', meta({ title: 'A' }));
    a.setFile('b.md', meta({ title: 'B' }));
    expect(sync(a, b).appeared).toEqual(['a.md', 'b.md']);
    a.deleteFile('a.md', () => T + 5);
    expect(sync(a, b).appeared).toEqual([]);
    a.setFile('a.md', meta({ title: 'A' }));
    a.setFile('b.md', meta({ title: 'B2' }));
    const r = sync(a, b);
    expect(r.appeared).toEqual(['a.md']);
    expect(r.changed).toEqual(['a.md', 'b.md']);
  });

  it('pairs renames: same parent and title first', () => {
    const [a, b] = pair();
    a.setFile('p/one.md', meta({ title: 'One', part_of: 'p/index.md' }));
    a.setFile('p/two.md', meta({ title: 'Two', part_of: 'p/index.md' }));
    sync(a, b);
    b.deleteFile('p/one.md', () => T + 60_000);
    b.deleteFile('p/two.md', () => T + 60_000);
    b.setFile('p/a-two.md', meta({ title: 'Two', part_of: 'p/index.md', modified_at: T + 60_000 }));
    b.setFile('p/b-one.md', meta({ title: 'One', part_of: 'p/index.md', modified_at: T + 60_000 }));
    const r = sync(b, a);
    expect(r.renames).toEqual([
      ['p/one.md', 'p/b-one.md'],
      ['p/two.md', 'p/a-two.md'],
    ]);
  });

  it('pairs renames by timestamp, then by a single candidate', () => {
    const [a, b] = pair();
    a.setFile('x/old.md', meta({ title: 'Old', part_of: 'x/i.md' }));
    a.setFile('y/old.md', meta({ title: 'Y', part_of: 'y/i.md', modified_at: 1 }));
    sync(a, b);
    const later = T + 3_600_000;
    b.deleteFile('x/old.md', () => later);
    b.setFile('x/new.md', meta({ title: 'Renamed', part_of: 'x/i.md', modified_at: later + 100 }));
    b.deleteFile('y/old.md', () => later);
    b.setFile('y/new.md', meta({ title: 'Other', part_of: 'y/i.md', modified_at: T }));
    const r = sync(b, a);
    expect(r.renames).toEqual([
      ['x/old.md', 'x/new.md'],
      ['y/old.md', 'y/new.md'],
    ]);
    expect(r.changed).toEqual(['x/new.md', 'y/new.md', 'x/old.md', 'y/old.md']);
  });

  it('does not pair when two deleted files share the parent of an unmatched created file', () => {
    const [a, b] = pair();
    a.setFile('d1.md', meta({ title: 'D1', part_of: 'i.md', modified_at: 1 }));
    a.setFile('d2.md', meta({ title: 'D2', part_of: 'i.md', modified_at: 1 }));
    sync(a, b);
    b.deleteFile('d1.md', () => 100_000);
    b.deleteFile('d2.md', () => 100_000);
    b.setFile('c.md', meta({ title: 'C', part_of: 'i.md', modified_at: 900_000 }));
    expect(sync(b, a).renames).toEqual([]);
  });

  it('detects doc-id path changes', () => {
    const [a, b] = pair();
    a.setFile('root-id', meta({ filename: 'index.md' }));
    a.setFile('child-id', meta({ filename: 'old.md', part_of: 'root-id' }));
    sync(a, b);
    b.setFile('child-id', meta({ filename: 'new.md', part_of: 'root-id' }));
    expect(sync(b, a).renames).toEqual([['index.md/old.md', 'index.md/new.md']]);
  });
});

describe('5 s concurrent front matter merge', () => {
  function concurrent(localEdit: Partial<FileMetadata>, remoteEdit: Partial<FileMetadata>, initial: Partial<FileMetadata> = {}) {
    const [a, b] = pair();
    a.setFile('shared.md', meta({ title: 'Shared', ...initial }));
    sync(a, b);
    a.setFile('shared.md', { ...(a.getFile('shared.md') as FileMetadata), ...localEdit });
    b.setFile('shared.md', { ...(b.getFile('shared.md') as FileMetadata), ...remoteEdit });
    return { a, b };
  }

  it('keeps both sides of concurrent non-structural edits', () => {
    for (let i = 0; i < 10; i++) {
      const { a, b } = concurrent(
        { extra: { tags: ['tag-from-local'] }, modified_at: T + 1000 },
        { description: 'desc-from-remote', modified_at: T + 1001 },
      );
      const sent: Uint8Array[] = [];
      a.onLocalUpdate((u) => sent.push(u));
      const { changed } = sync(b, a);
      const merged = a.getFile('shared.md') as FileMetadata;
      expect(merged.description).toBe('desc-from-remote');
      expect(merged.extra).toEqual({ tags: ['tag-from-local'] });
      expect(merged.modified_at).toBe(T + 1001);
      expect(changed).toEqual(['shared.md']);
      expect(sent.length).toBe(1);
      expect(sync(a, b).changed).toEqual(['shared.md']);
      expect(b.getFile('shared.md')).toEqual(merged);
    }
  });

  it('does not undo a one-sided clear', () => {
    for (let i = 0; i < 10; i++) {
      const [a, b] = pair();
      a.setFile('shared.md', meta({ title: 'Shared', description: 'to-clear' }));
      sync(a, b);
      b.setFile('shared.md', { ...(b.getFile('shared.md') as FileMetadata), description: null, modified_at: T + 10 });
      sync(b, a);
      expect(a.getFile('shared.md')?.description).toBeNull();
    }
  });

  it('does not merge outside the window, for local origins, or for tombstones', () => {
    const far = concurrent({ extra: { tags: ['l'] }, modified_at: T + 1 }, { description: 'r', modified_at: T + 5002 });
    sync(far.b, far.a);
    const m = far.a.getFile('shared.md') as FileMetadata;
    expect(m.description === null || Object.keys(m.extra).length === 0).toBe(true);

    const local = concurrent({ extra: { tags: ['l'] }, modified_at: T + 1 }, { description: 'r', modified_at: T + 2 });
    sync(local.b, local.a, ORIGIN_LOCAL);
    const l = local.a.getFile('shared.md') as FileMetadata;
    expect(l.description === null || Object.keys(l.extra).length === 0).toBe(true);

    const tomb = concurrent({ extra: { tags: ['l'] }, modified_at: T + 1 }, { description: 'r', deleted: true, modified_at: T + 2 });
    sync(tomb.b, tomb.a);
    const t = tomb.a.getFile('shared.md') as FileMetadata;
    expect(t.description === null || Object.keys(t.extra).length === 0).toBe(true);
  });

  it('audience counts as novel only against a missing audience; empty extra values do not count', () => {
    const { a, b } = concurrent({ audience: ['family'], modified_at: T + 1 }, { extra: { mood: 'ok', empty: '' }, modified_at: T + 2 });
    sync(b, a);
    const m = a.getFile('shared.md') as FileMetadata;
    expect(m.audience).toEqual(['family']);
    expect(m.extra).toEqual(m.extra.empty === undefined ? { mood: 'ok' } : { mood: 'ok', empty: '' });
  });
});

describe('listener errors', () => {
  it('do not break the doc and are rethrown after the operation', () => {
    const ws = new WorkspaceCrdt();
    const seen: string[][] = [];
    ws.onUpdate((_u, _o, keys) => seen.push(keys));
    const off = ws.onLocalUpdate(() => {
      throw new Error('queue full');
    });
    expect(() => ws.setFile('a.md', meta({ title: 'A' }))).toThrow('queue full');
    expect(ws.getFile('a.md')?.title).toBe('A');
    off();
    ws.setFile('b.md', meta({ title: 'B' }));
    expect(seen).toEqual([['a.md'], ['b.md']]);
    expect(ws.activeKeys()).toEqual(['a.md', 'b.md']);
  });
});

describe('deletes that had not seen the entry they replace', () => {
  it('reports a tombstone of an earlier file at the path that beats an entry written here meanwhile', () => {
    const here = replica(1);
    const deleter = replica(2);
    deleter.setFile('x.md', meta({ title: 'Old' }));
    deleter.deleteFile('x.md', () => T + 1000);
    here.setFile('x.md', meta({ title: 'New', modified_at: T + 2000 }));
    const result = sync(deleter, here);
    expect(here.getFile('x.md')?.deleted).toBe(true);
    expect(result.deletedUnseen).toEqual(['x.md']);
  });

  it('does not report a delete of the entry its writer had received', () => {
    const here = replica(1);
    const deleter = replica(2);
    here.setFile('x.md', meta({ title: 'New' }));
    sync(here, deleter);
    deleter.deleteFile('x.md', () => T + 1000);
    const result = sync(deleter, here);
    expect(here.getFile('x.md')?.deleted).toBe(true);
    expect(result.deletedUnseen).toEqual([]);
  });

  it('does not report a delete of an entry that came from a third replica the deleter had received', () => {
    const here = replica(1);
    const creator = replica(3);
    const deleter = replica(2);
    creator.setFile('x.md', meta({ title: 'Shared' }));
    sync(creator, here);
    sync(creator, deleter);
    deleter.deleteFile('x.md', () => T + 1000);
    const result = sync(deleter, here);
    expect(result.deletedUnseen).toEqual([]);
  });
});

describe('a file written here that a write from a device that had not seen it replaced', () => {
  /** `here` deletes x.md and writes a new file there while `other` still edits the earlier one. */
  function reusedPath() {
    const here = replica(1);
    const other = replica(2);
    here.setFile('x.md', meta({ title: 'Old' }));
    sync(here, other);
    here.deleteFile('x.md', () => T + 1000);
    here.setFile('x.md', meta({ title: 'New', modified_at: T + 2000 }));
    other.setFile('x.md', meta({ title: 'Old, edited', modified_at: T + 1500 }));
    return { here, other };
  }

  it('is written again on top of the winning entry, so the other device sees it', () => {
    const { here, other } = reusedPath();
    const sent: Uint8Array[] = [];
    here.onLocalUpdate((u) => sent.push(u));
    sync(other, here);
    expect(sent.length).toBe(1);
    expect(here.getFile('x.md')?.deleted).toBe(false);
    sync(here, other);
    expect(other.getFile('x.md')).toEqual(here.getFile('x.md'));
  });

  it('makes a later delete by a device that had not seen it a delete of the earlier file', () => {
    const { here, other } = reusedPath();
    sync(other, here);
    other.deleteFile('x.md', () => T + 3000);
    const result = sync(other, here);
    expect(result.deletedUnseen).toEqual(['x.md']);
  });

  it('is not written again after a concurrent edit of an entry both had (merged or last writer wins)', () => {
    const here = replica(1);
    const other = replica(2);
    here.setFile('x.md', meta({ title: 'Shared' }));
    sync(here, other);
    here.setFile('x.md', meta({ title: 'Here', modified_at: T + 1000 }));
    other.setFile('x.md', meta({ title: 'There', modified_at: T + 1001 }));
    const sent: Uint8Array[] = [];
    here.onLocalUpdate((u) => sent.push(u));
    sync(other, here);
    expect(here.getFile('x.md')?.title).toBe('There');
    expect(sent.length).toBe(0);
  });
});

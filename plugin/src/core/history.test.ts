import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { BodyDocManager } from './body-docs';
import { HISTORY_CHUNK_BYTES } from './history-codec';
import { filesFromState, HistoryLog } from './history';
import { emptyMetadata, type FileMetadata } from '../../../common/src/workspace/metadata';
import { ORIGIN_REMOTE } from './origin';
import { WorkspaceCrdt } from './workspace-crdt';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`history.test fast-check seed: ${seed} (set FC_SEED to replay)`);

const DAY = 86_400_000;
const T0 = 1773489600000;

function meta(fields: Partial<FileMetadata> = {}): FileMetadata {
  return { ...emptyMetadata(''), modified_at: T0, ...fields };
}

function textOf(state: Uint8Array | null): string | null {
  if (state === null) return null;
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  const s = doc.getText('body').toString();
  doc.destroy();
  return s;
}

/** A clock the tests move by hand. */
function clock(start = T0): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

/** Workspace + body docs wired to a history log, like the plugin does. */
function wired(log: HistoryLog) {
  const ws = new WorkspaceCrdt();
  const bodies = new BodyDocManager();
  ws.onUpdate((u, origin, keys) => log.record('workspace', u, origin, { filesChanged: keys, deviceId: 'dev1', deviceName: 'Laptop' }));
  bodies.onUpdate((key, u, origin) => log.record(key, u, origin));
  return { ws, bodies };
}

describe('HistoryLog', () => {
  it('lists entries newest first in the HistoryEntry shape', () => {
    const c = clock();
    const log = new HistoryLog(c.now);
    const { ws, bodies } = wired(log);
    ws.setFile('a.md', meta({ title: 'A' }));
    c.set(T0 + 5);
    bodies.setBody('a.md', 'hello');
    c.set(T0 + 10);
    ws.setFile('b.md', meta({ title: 'B' }));
    expect(log.list('workspace')).toEqual([
      { update_id: 3, timestamp: T0 + 10, origin: 'local', files_changed: ['b.md'], device_id: 'dev1', device_name: 'Laptop' },
      { update_id: 1, timestamp: T0, origin: 'local', files_changed: ['a.md'], device_id: 'dev1', device_name: 'Laptop' },
    ]);
    expect(log.list('workspace', 1).map((e) => e.update_id)).toEqual([3]);
    expect(log.list('a.md')).toEqual([
      { update_id: 2, timestamp: T0 + 5, origin: 'local', files_changed: ['a.md'], device_id: null, device_name: null },
    ]);
    expect(log.list('nothing')).toEqual([]);
    expect(log.latestId()).toBe(3);
    expect(log.docNames()).toEqual(['a.md', 'workspace']);
  });

  it('listForFile combines workspace and body entries by time', () => {
    const c = clock();
    const log = new HistoryLog(c.now);
    const { ws, bodies } = wired(log);
    ws.setFile('a.md', meta());
    c.set(T0 + 2);
    bodies.setBody('a.md', 'x');
    c.set(T0 + 3);
    ws.setFile('b.md', meta());
    c.set(T0 + 4);
    ws.setFile('a.md', meta({ title: 'A2' }));
    expect(log.listForFile('a.md').map((e) => e.update_id)).toEqual([4, 2, 1]);
    expect(log.listForFile('a.md', 2).map((e) => e.update_id)).toEqual([4, 2]);
  });

  it('records remote updates with their origin and changed keys', () => {
    const log = new HistoryLog(() => T0);
    const other = new WorkspaceCrdt();
    other.setFile('r.md', meta({ title: 'R' }));
    const { ws } = wired(log);
    ws.applyUpdate(other.encodeState(), ORIGIN_REMOTE);
    expect(log.list('workspace')[0]).toMatchObject({ origin: 'remote', files_changed: ['r.md'] });
  });

  it('rebuilds states, diffs and restore updates', () => {
    const c = clock();
    const log = new HistoryLog(c.now);
    const { ws } = wired(log);
    ws.setFile('a.md', meta({ title: 'A' })); // 1
    ws.setFile('b.md', meta({ title: 'B' })); // 2
    ws.deleteFile('b.md', () => T0 + 1); // 3
    ws.setFile('a.md', meta({ title: 'A2' })); // 4
    ws.setFile('b.md', meta({ title: 'B' })); // 5
    const titles = (id: number) =>
      [...(log.filesAt('workspace', id) ?? new Map<string, FileMetadata>())].map(([k, m]) => `${k}:${m.title}:${m.deleted}`);
    expect(titles(0)).toEqual([]);
    expect(titles(2)).toEqual(['a.md:A:false', 'b.md:B:false']);
    expect(titles(3)).toEqual(['a.md:A:false', 'b.md:B:true']);
    expect(log.stateAt('workspace', 99)).toEqual(log.stateAt('workspace', 5));
    expect(log.stateAt('nope', 1)).toBeNull();

    expect(log.diff('workspace', 0, 2).map((d) => [d.path, d.change_type])).toEqual([
      ['a.md', 'Added'],
      ['b.md', 'Added'],
    ]);
    const d = log.diff('workspace', 2, 4);
    expect(d.map((x) => [x.path, x.change_type])).toEqual([
      ['a.md', 'Modified'],
      ['b.md', 'Deleted'],
    ]);
    expect(d[0].old_metadata?.title).toBe('A');
    expect(d[0].new_metadata?.title).toBe('A2');
    expect(log.diff('workspace', 3, 5).map((x) => [x.path, x.change_type])).toEqual([
      ['a.md', 'Modified'],
      ['b.md', 'Restored'],
    ]);
    expect(log.diff('workspace', 2, 0).map((x) => [x.path, x.change_type, x.new_metadata])).toEqual([
      ['a.md', 'Deleted', null],
      ['b.md', 'Deleted', null],
    ]);

    const restore = log.createRestoreUpdate('workspace', 2) as Uint8Array;
    const files = filesFromState(restore);
    expect([...files.keys()].sort()).toEqual(['a.md', 'b.md']);
    expect(files.get('a.md')?.title).toBe('A');
    expect(log.createRestoreUpdate('nope', 1)).toBeNull();
  });

  it('ensureBase starts a log from existing state', () => {
    const log = new HistoryLog(() => T0);
    const bodies = new BodyDocManager();
    bodies.setBody('x.md', 'restored');
    log.record('other.md', Uint8Array.of(0, 0), 'local');
    log.ensureBase('x.md', bodies.encodeState('x.md'));
    expect(textOf(log.stateAt('x.md', 1))).toBe('restored');
    expect(log.stateAt('x.md', 0)).toBeNull();
    bodies.onUpdate((k, u, o) => log.record(k, u, o));
    bodies.setBody('x.md', 'restored!');
    expect(textOf(log.stateAt('x.md', 2))).toBe('restored!');
  });

  it('renameDoc and removeDoc', () => {
    const log = new HistoryLog(() => T0);
    const bodies = new BodyDocManager();
    bodies.onUpdate((k, u, o) => log.record(k, u, o));
    bodies.setBody('old.md', 'a');
    bodies.setBody('new.md', 'b');
    log.renameDoc('old.md', 'new.md');
    expect(log.docNames()).toEqual(['new.md']);
    expect(textOf(log.stateAt('new.md', 10))).toBe('a');
    const bytes = log.byteSize();
    log.removeDoc('new.md');
    expect(log.byteSize()).toBeLessThan(bytes);
    expect(log.byteSize()).toBe(0);
  });
});

describe('retention', () => {
  /** Body edits spread over `days` days, recorded into a thinned log and a reference log that keeps everything. */
  function scenario(edits: { day: number; text: string }[], options: { keepAllDays: number; maxBytes?: number }) {
    const c = clock();
    const log = new HistoryLog(c.now, options);
    const ref = new HistoryLog(c.now, { keepAllDays: 1e6, maxBytes: 1e12 });
    const bodies = new BodyDocManager();
    const ids: number[] = [];
    bodies.onUpdate((k, u, o) => {
      ids.push(log.record(k, u, o));
      ref.record(k, u, o);
    });
    let i = 0;
    for (const e of edits) {
      c.set(T0 + e.day * DAY + i++);
      bodies.setBody('n.md', e.text);
    }
    return { log, ref, ids, clock: c };
  }

  it('keeps recent entries and one entry per older day, with exact states', () => {
    const edits = [];
    for (let day = 0; day < 10; day++) for (let k = 0; k < 3; k++) edits.push({ day, text: `d${day}k${k}` });
    const { log, ref } = scenario(edits, { keepAllDays: 3 });
    const kept = log.list('n.md').map((e) => e.update_id).reverse();
    // days 0..6 are older than 3 days at day 9: one entry each (the last of the day); days 7..9 complete.
    expect(kept).toEqual([3, 6, 9, 12, 15, 18, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    for (const id of kept) expect(textOf(log.stateAt('n.md', id))).toBe(textOf(ref.stateAt('n.md', id)));
    expect(textOf(log.stateAt('n.md', 2))).toBe('');
  });

  it('folds the oldest entries into the base to stay within the byte budget', () => {
    const edits = [];
    for (let i = 0; i < 200; i++) edits.push({ day: 0, text: `line ${i} `.repeat(1 + (i % 7)) });
    const maxBytes = 2000;
    const { log, ref } = scenario(edits, { keepAllDays: 30, maxBytes });
    expect(log.byteSize()).toBeLessThanOrEqual(maxBytes);
    const kept = log.list('n.md').map((e) => e.update_id);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(200);
    for (const id of kept) expect(textOf(log.stateAt('n.md', id))).toBe(textOf(ref.stateAt('n.md', id)));
    const oldest = Math.min(...kept);
    expect(log.stateAt('n.md', oldest - 2)).toBeNull();
    expect(textOf(log.stateAt('n.md', oldest - 1))).toBe(textOf(ref.stateAt('n.md', oldest - 1)));
  });

  it('one large change costs only its own file older versions, and says so', () => {
    const c = clock();
    const log = new HistoryLog(c.now, { maxBytes: 64 * 1024 });
    const dropped: [string, number][] = [];
    log.onDropped = (doc, n) => dropped.push([doc, n]);
    const { ws, bodies } = wired(log);
    for (let i = 0; i < 35; i++) {
      c.set(T0 + i);
      ws.setFile(`n${i}.md`, meta({ title: `N${i}` }));
      bodies.setBody(`n${i}.md`, `text ${i}`);
    }
    bodies.setBody('big.md', 'small first');
    const before = log.docNames().reduce((n, d) => n + log.list(d).length, 0);
    expect(before).toBe(71);
    c.set(T0 + 100);
    bodies.setBody('big.md', 'x'.repeat(100 * 1024));
    // Every other doc keeps all its versions; only big.md's go into its base.
    for (let i = 0; i < 35; i++) expect(log.list(`n${i}.md`)).toHaveLength(1);
    expect(log.list('workspace')).toHaveLength(35);
    expect(log.list('big.md')).toHaveLength(0);
    expect(textOf(log.stateAt('big.md', log.latestId()))).toBe('x'.repeat(100 * 1024));
    expect(dropped).toEqual([['big.md', 2]]);
    expect(log.dropped.entries).toBe(2);
    expect([...log.dropped.docs]).toEqual(['big.md']);
  });

  it('property: states at kept ids never change under retention', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ day: fc.integer({ min: 0, max: 20 }), text: fc.string({ maxLength: 30 }) }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 50, max: 3000 }),
        (raw, keepAllDays, maxBytes) => {
          const edits = [...raw].sort((a, b) => a.day - b.day);
          const { log, ref } = scenario(edits, { keepAllDays, maxBytes });
          for (const e of log.list('n.md')) {
            expect(textOf(log.stateAt('n.md', e.update_id))).toBe(textOf(ref.stateAt('n.md', e.update_id)));
          }
          expect(textOf(log.stateAt('n.md', 1e9))).toBe(textOf(ref.stateAt('n.md', 1e9)));
        },
      ),
      { seed, numRuns: 60 },
    );
  });
});

describe('persistence', () => {
  function storage() {
    const map = new Map<string, Uint8Array>();
    const write = (writes: Map<string, Uint8Array>) => {
      for (const [k, v] of writes) {
        if (v.length === 0) map.delete(k);
        else map.set(k, v);
      }
    };
    return { map, write, read: (k: string) => map.get(k) ?? null };
  }

  it('round-trips through chunked storage values', () => {
    const c = clock();
    const log = new HistoryLog(c.now, { maxBytes: 1e9 });
    const { ws, bodies } = wired(log);
    ws.setFile('a.md', meta({ title: 'A' }));
    const big = 'x'.repeat(700 * 1024);
    c.set(T0 + 1);
    bodies.setBody('a.md', big);
    bodies.setBody('a.md', big + '!');
    const s = storage();
    const writes = log.encode();
    for (const v of writes.values()) expect(v.length).toBeLessThanOrEqual(HISTORY_CHUNK_BYTES);
    const keys = [...writes.keys()];
    expect(keys[keys.length - 1]).toBe('history:manifest');
    const chunkKeys = keys.filter((k) => /^history:g\d+\.\d+$/.test(k));
    const total = chunkKeys.reduce((n, k) => n + writes.get(k)!.length, 0);
    expect(chunkKeys.length).toBe(Math.ceil(total / HISTORY_CHUNK_BYTES));
    expect(chunkKeys.length).toBeGreaterThan(1);
    s.write(writes);

    const back = HistoryLog.decode(s.read, c.now);
    expect(back.loadErrors).toEqual([]);
    expect(back.list('workspace')).toEqual(log.list('workspace'));
    expect(back.list('a.md')).toEqual(log.list('a.md'));
    expect(textOf(back.stateAt('a.md', 3))).toBe(big + '!');
    expect(back.byteSize()).toBe(log.byteSize());
    expect(back.record('a.md', Uint8Array.of(0, 0), 'local')).toBe(4);
  });

  it('deletes stale keys of the previous generation after the manifest', () => {
    const log = new HistoryLog(() => T0);
    log.record('one.md', Uint8Array.of(0, 0), 'local');
    const s = storage();
    s.write(log.encode());
    const first = [...s.map.keys()].sort();
    const reloaded = HistoryLog.decode(s.read, () => T0);
    reloaded.removeDoc('one.md');
    reloaded.record('two.md', Uint8Array.of(0, 0), 'remote');
    const writes = reloaded.encode();
    const order = [...writes.keys()];
    const manifestAt = order.indexOf('history:manifest');
    for (const k of first.filter((k) => k !== 'history:manifest')) {
      expect(writes.get(k)?.length).toBe(0);
      expect(order.indexOf(k)).toBeGreaterThan(manifestAt);
    }
    s.write(writes);
    expect([...s.map.keys()].sort()).toEqual(['history:g2.0', 'history:manifest']);
    expect(HistoryLog.decode(s.read, () => T0).list('two.md')[0]).toMatchObject({ update_id: 2, origin: 'remote' });
  });

  it('skips a doc whose log is corrupt, and reports missing chunks', () => {
    const log = new HistoryLog(() => T0);
    log.record('good.md', Uint8Array.of(0, 0), 'local');
    log.record('bad.md', Uint8Array.of(0, 0), 'local');
    const s = storage();
    s.write(log.encode());
    const manifest = JSON.parse(new TextDecoder().decode(s.map.get('history:manifest')!)) as { docs: { name: string; offset: number }[] };
    const bad = manifest.docs.find((d) => d.name === 'bad.md')!;
    const chunk = s.map.get('history:g1.0')!.slice();
    chunk[bad.offset] = 99; // an unknown doc log format version
    s.map.set('history:g1.0', chunk);
    const back = HistoryLog.decode(s.read, () => T0);
    expect(back.docNames()).toEqual(['good.md']);
    expect(back.loadErrors.length).toBe(1);
    expect(back.record('x.md', Uint8Array.of(0, 0), 'local')).toBe(3);
    const writes = back.encode();
    expect(writes.get('history:g1.0')?.length).toBe(0);

    s.map.delete('history:g1.0');
    const lost = HistoryLog.decode(s.read, () => T0);
    expect(lost.docNames()).toEqual([]);
    expect(lost.loadErrors).toEqual([expect.stringMatching(/missing chunk history:g1\.0/)]);
  });

  it('reads the stored log on first use; until then ensureBase waits and encode writes nothing', () => {
    const log = new HistoryLog(() => T0);
    log.record('a.md', Uint8Array.of(0, 0), 'local');
    log.ensureBase('workspace', Uint8Array.of(0, 0));
    const s = storage();
    s.write(log.encode());
    const reads: string[] = [];
    const read = (k: string) => {
      reads.push(k);
      return s.read(k);
    };
    const lazy = HistoryLog.decode(read, () => T0);
    lazy.ensureBase('workspace', Uint8Array.of(1, 2));
    lazy.compact();
    expect(reads).toEqual([]);
    // Every base asked for is already stored: nothing to write (only the manifest is read).
    expect(lazy.encode().size).toBe(0);
    expect(reads).toEqual(['history:manifest']);
    expect(lazy.list('a.md')).toEqual(log.list('a.md'));
    expect(lazy.stateAt('workspace', 1)).toEqual(log.stateAt('workspace', 1));

    // A base for a doc the stored log lacks is applied when the log is read, at the stored next id.
    const other = HistoryLog.decode(s.read, () => T0);
    other.ensureBase('b.md', Uint8Array.of(0, 0));
    expect(other.encode().size).toBeGreaterThan(0);
    expect(other.docNames()).toEqual(['a.md', 'b.md', 'workspace']);
    expect(other.record('a.md', Uint8Array.of(0, 0), 'local')).toBe(2);
  });

  it('reports the problems of a lazily read log through onLoadErrors', () => {
    const broken = HistoryLog.decode((k) => (k === 'history:manifest' ? Uint8Array.of(123) : null), () => T0);
    const seen: string[] = [];
    broken.onLoadErrors = (errors) => seen.push(...errors);
    expect(seen).toEqual([]);
    expect(broken.docNames()).toEqual([]);
    expect(seen.length).toBe(1);
  });

  it('an empty storage gives an empty log; a broken manifest is reported', () => {
    expect(HistoryLog.decode(() => null, () => T0).docNames()).toEqual([]);
    const broken = HistoryLog.decode((k) => (k === 'history:manifest' ? Uint8Array.of(123) : null), () => T0);
    expect(broken.loadErrors.length).toBe(1);
  });
});

describe('clock failures', () => {
  it('record keeps the last known time when the clock throws', () => {
    let fail = false;
    const log = new HistoryLog(() => {
      if (fail) throw new Error('no clock');
      return T0;
    });
    log.record('a.md', Uint8Array.of(0, 0), 'local');
    fail = true;
    expect(log.record('a.md', Uint8Array.of(0, 0), 'local')).toBe(2);
    expect(log.list('a.md').map((e) => e.timestamp)).toEqual([T0, T0]);
    expect(log.encode().has('history:manifest')).toBe(true);
  });
});

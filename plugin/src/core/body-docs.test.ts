import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { BodyDocError, BodyDocManager, minimalEdit, textOf } from './body-docs';
import { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC } from './origin';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`body-docs.test fast-check seed: ${seed} (set FC_SEED to replay)`);

function apply(s: string, e: { index: number; deleteCount: number; insert: string }): string {
  return s.slice(0, e.index) + e.insert + s.slice(e.index + e.deleteCount);
}

const isLone = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff) return !(s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff);
  if (c >= 0xdc00 && c <= 0xdfff) return !(s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff);
  return false;
};

/** True when offset `i` falls between the two halves of a surrogate pair. */
const cutsPair = (s: string, i: number): boolean =>
  i > 0 && i < s.length && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff && s.charCodeAt(i) >= 0xdc00 && s.charCodeAt(i) <= 0xdfff;

describe('minimalEdit', () => {
  it('finds the span between common prefix and suffix', () => {
    expect(minimalEdit('hello world', 'hello there world')).toEqual({ index: 6, deleteCount: 0, insert: 'there ' });
    expect(minimalEdit('abcabc', 'abc')).toEqual({ index: 3, deleteCount: 3, insert: '' });
    expect(minimalEdit('', 'x')).toEqual({ index: 0, deleteCount: 0, insert: 'x' });
  });

  it('never splits a surrogate pair', () => {
    // U+1F600 and U+1F601 share the high surrogate; U+1F600 and U+2F600 share the low one.
    expect(minimalEdit('a\u{1F600}b', 'a\u{1F601}b')).toEqual({ index: 1, deleteCount: 2, insert: '\u{1F601}' });
    expect(minimalEdit('\u{1F600}', '\u{2F600}')).toEqual({ index: 0, deleteCount: 2, insert: '\u{2F600}' });
  });

  it('property: applying the edit gives the new text, and inserted/kept text has no cut pairs', () => {
    const unit = fc.constantFrom('a', 'b', '\n', 'é', '\u{1F600}', '\u{1F601}', '\u{2F600}');
    const str = fc.array(unit, { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(str, str, (a, b) => {
        const e = minimalEdit(a, b);
        expect(apply(a, e)).toBe(b);
        for (let i = 0; i < e.insert.length; i++) expect(isLone(e.insert, i)).toBe(false);
        expect(cutsPair(a, e.index)).toBe(false);
        expect(cutsPair(a, e.index + e.deleteCount)).toBe(false);
      }),
      { seed, numRuns: 500 },
    );
  });
});

/** minimalEdit with plain per-code-unit scans (what the block comparison must equal). */
function referenceEdit(current: string, next: string): { index: number; deleteCount: number; insert: string } {
  const max = Math.min(current.length, next.length);
  let prefix = 0;
  while (prefix < max && current.charCodeAt(prefix) === next.charCodeAt(prefix)) prefix++;
  if (prefix > 0 && /[\uD800-\uDBFF]/.test(current[prefix - 1])) prefix--;
  const limit = max - prefix;
  let suffix = 0;
  while (suffix < limit && current.charCodeAt(current.length - 1 - suffix) === next.charCodeAt(next.length - 1 - suffix)) suffix++;
  if (suffix > 0 && /[\uDC00-\uDFFF]/.test(current[current.length - suffix])) suffix--;
  return { index: prefix, deleteCount: current.length - suffix - prefix, insert: next.slice(prefix, next.length - suffix) };
}

describe('minimalEdit on long texts', () => {
  it('property: equals the per-character scan for edits anywhere in texts of hundreds of characters', () => {
    const unit = fc.constantFrom('a', 'b', '\n', 'é', '\u{1F600}', '\u{1F601}');
    const str = (max: number) => fc.array(unit, { maxLength: max }).map((a) => a.join(''));
    fc.assert(
      fc.property(str(300), str(4), str(4), fc.nat(), fc.nat(4), (base, ins, tail, at, del) => {
        const pos = base.length === 0 ? 0 : at % base.length;
        const next = base.slice(0, pos) + ins + base.slice(pos + del) + tail;
        expect(minimalEdit(base, next)).toEqual(referenceEdit(base, next));
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe('BodyDocManager', () => {
  it('creates docs with a body text and an empty frontmatter map', () => {
    const m = new BodyDocManager();
    expect(m.get('a.md')).toBeUndefined();
    expect(m.has('a.md')).toBe(false);
    const doc = m.getOrCreate('a.md');
    expect(m.getOrCreate('a.md')).toBe(doc);
    expect(m.has('a.md')).toBe(true);
    expect(doc.share.has('body')).toBe(true);
    expect(doc.share.has('frontmatter')).toBe(true);
    expect(m.getBody('a.md')).toBe('');
    expect(m.getBody('missing.md')).toBe('');
    expect(m.loadedKeys()).toEqual(['a.md']);
  });

  it('setBody is a no-op when equal and one minimal edit otherwise', () => {
    const m = new BodyDocManager();
    const updates: [string, Uint8Array][] = [];
    m.onLocalUpdate((k, u) => updates.push([k, u]));
    expect(m.setBody('a.md', 'Hello world')).toBe(true);
    expect(m.setBody('a.md', 'Hello world')).toBe(false);
    expect(m.setBody('a.md', 'Hello brave world')).toBe(true);
    expect(updates.map(([k]) => k)).toEqual(['a.md', 'a.md']);
    const decoded = Y.decodeUpdate(updates[1][1]);
    expect(decoded.structs.length).toBe(1);
    expect(decoded.ds.clients.size).toBe(0);
    expect(m.getBody('a.md')).toBe('Hello brave world');
  });

  it('converges with another replica and does not echo remote updates', () => {
    const a = new BodyDocManager();
    const b = new BodyDocManager();
    const fromA: Uint8Array[] = [];
    const fromB: Uint8Array[] = [];
    a.onLocalUpdate((_k, u) => fromA.push(u));
    b.onLocalUpdate((_k, u) => fromB.push(u));
    const seen: string[] = [];
    b.onUpdate((k, _u, origin) => seen.push(`${k}:${origin}`));
    a.setBody('n.md', 'one\ntwo\n');
    for (const u of fromA) expect(b.applyUpdate('n.md', u, ORIGIN_REMOTE)).toBe(true);
    expect(fromB.length).toBe(0);
    expect(b.getBody('n.md')).toBe('one\ntwo\n');
    b.setBody('n.md', 'one\n2\ntwo\n');
    a.setBody('n.md', 'zero\none\ntwo\n');
    a.applyUpdate('n.md', b.encodeDiff('n.md', a.stateVector('n.md')), ORIGIN_SYNC);
    b.applyUpdate('n.md', a.encodeDiff('n.md', b.stateVector('n.md')), ORIGIN_REMOTE);
    expect(a.getBody('n.md')).toBe('zero\none\n2\ntwo\n');
    expect(b.getBody('n.md')).toBe(a.getBody('n.md'));
    expect(seen).toEqual(['n.md:remote', 'n.md:local', 'n.md:remote']);
    expect(a.applyUpdate('n.md', b.encodeState('n.md'), ORIGIN_REMOTE)).toBe(false);
  });

  it('local-origin applies are reported as local', () => {
    const a = new BodyDocManager();
    const b = new BodyDocManager();
    a.setBody('x.md', 'x');
    const out: string[] = [];
    b.onLocalUpdate((k) => out.push(k));
    b.applyUpdate('x.md', a.encodeState('x.md'), ORIGIN_LOCAL);
    expect(out).toEqual(['x.md']);
  });

  it('empty-doc encodings without creating a doc', () => {
    const m = new BodyDocManager();
    expect(m.stateVector('none.md')).toEqual(Y.encodeStateVector(new Y.Doc()));
    expect(m.encodeState('none.md')).toEqual(Y.encodeStateAsUpdate(new Y.Doc()));
    expect(m.has('none.md')).toBe(false);
  });

  it('rejects bad updates and state vectors', () => {
    const m = new BodyDocManager();
    expect(() => m.applyUpdate('a.md', new Uint8Array(0), ORIGIN_REMOTE)).toThrow(BodyDocError);
    expect(() => m.applyUpdate('a.md', Uint8Array.of(9, 9, 9), ORIGIN_REMOTE)).toThrow(BodyDocError);
    expect(() => m.encodeDiff('a.md', Uint8Array.of(5))).toThrow(BodyDocError);
  });

  it('remove destroys the doc', () => {
    const m = new BodyDocManager();
    const doc = m.getOrCreate('a.md');
    let destroyed = false;
    doc.on('destroy', () => {
      destroyed = true;
    });
    expect(m.remove('a.md')).toBe(true);
    expect(destroyed).toBe(true);
    expect(m.has('a.md')).toBe(false);
    expect(m.remove('a.md')).toBe(false);
  });

  it('rename moves content, history and tracked content to the new key', () => {
    const m = new BodyDocManager();
    const keys: string[] = [];
    m.onLocalUpdate((k) => keys.push(k));
    m.setBody('old.md', 'text');
    m.trackContent('old.md', 'text');
    m.getOrCreate('new.md');
    expect(m.rename('./old.md', 'new.md')).toBe(true);
    expect(m.has('old.md')).toBe(false);
    expect(m.getBody('new.md')).toBe('text');
    expect(m.isEcho('new.md', 'text')).toBe(true);
    expect(m.isEcho('old.md', 'text')).toBe(false);
    m.setBody('new.md', 'text!');
    expect(keys).toEqual(['old.md', 'new.md']);
    expect(m.rename('new.md', 'new.md')).toBe(false);
    expect(m.rename('', 'x.md')).toBe(false);
    expect(m.rename('absent.md', 'x.md')).toBe(false);
  });

  it('echo tracking uses sync keys', () => {
    const m = new BodyDocManager();
    m.trackContent('./a.md', 'body');
    expect(m.isEcho('/a.md', 'body')).toBe(true);
    expect(m.isEcho('a.md', 'other')).toBe(false);
    m.clearTracked('a.md');
    expect(m.isEcho('a.md', 'body')).toBe(false);
  });

  it('ensureLoaded fills an empty doc from disk once', () => {
    const m = new BodyDocManager();
    const sent: string[] = [];
    m.onLocalUpdate((k) => sent.push(k));
    expect(m.ensureLoaded('a.md', () => null)).toBe(false);
    expect(m.ensureLoaded('a.md', () => '')).toBe(false);
    expect(m.ensureLoaded('a.md', () => 'disk body')).toBe(true);
    expect(m.getBody('a.md')).toBe('disk body');
    expect(m.isEcho('a.md', 'disk body')).toBe(true);
    let read = false;
    expect(
      m.ensureLoaded('a.md', () => {
        read = true;
        return 'other';
      }),
    ).toBe(false);
    expect(read).toBe(false);
    expect(sent).toEqual(['a.md']);
  });
});

describe('updates held back (a deletion that comes before its text)', () => {
  /** Another replica's text, and the update deleting part of it. */
  function textThenDeletion(): { text: Uint8Array; deletion: Uint8Array } {
    const other = new Y.Doc();
    other.getText('body').insert(0, 'keep this, drop this');
    const text = Y.encodeStateAsUpdate(other);
    const sv = Y.encodeStateVector(other);
    other.getText('body').delete(9, 11);
    return { text, deletion: Y.encodeStateAsUpdate(other, sv) };
  }

  it('are reported (no update event says so) and survive the store round trip, even in a doc with no text yet', () => {
    const { text, deletion } = textThenDeletion();
    const m = new BodyDocManager();
    const heldBack: string[] = [];
    const updates: string[] = [];
    m.onHeldBack((key) => heldBack.push(key));
    m.onUpdate((key) => updates.push(key));
    expect(m.applyUpdate('a.md', deletion, ORIGIN_REMOTE)).toBe(false);
    expect(heldBack).toEqual(['a.md']);
    expect(updates).toEqual([]);
    const stored = m.encodeState('a.md');

    // A restart: the stored doc is loaded on first use, and the deletion is still waiting.
    const again = new BodyDocManager();
    again.setStore(['a.md'], { read: () => stored, corrupt: () => {}, loaded: () => {} });
    expect(again.has('a.md')).toBe(true);
    again.applyUpdate('a.md', text, ORIGIN_REMOTE);
    expect(again.getBody('a.md')).toBe('keep this');
  });

  it('an empty stored doc without held-back updates is no doc', () => {
    const empty = Y.encodeStateAsUpdate(new Y.Doc());
    const m = new BodyDocManager();
    m.setStore(['a.md'], { read: () => empty, corrupt: () => {}, loaded: () => {} });
    expect(m.get('a.md')).toBeUndefined();
  });

  it('an update that applies reports nothing held back', () => {
    const { text, deletion } = textThenDeletion();
    const m = new BodyDocManager();
    const heldBack: string[] = [];
    m.onHeldBack((key) => heldBack.push(key));
    m.applyUpdate('a.md', text, ORIGIN_REMOTE);
    m.applyUpdate('a.md', deletion, ORIGIN_REMOTE);
    expect(heldBack).toEqual([]);
    expect(m.getBody('a.md')).toBe('keep this');
  });
});

describe('listener errors', () => {
  it('are rethrown after setBody completes', () => {
    const m = new BodyDocManager();
    m.onLocalUpdate(() => {
      throw new Error('boom');
    });
    expect(() => m.setBody('a.md', 'x')).toThrow('boom');
    expect(m.getBody('a.md')).toBe('x');
    expect(() => m.setBody('a.md', 'xy')).toThrow('boom');
    expect(m.getBody('a.md')).toBe('xy');
  });
});

describe('deleteKnownText (a file written at a deleted path)', () => {
  it('deletes the text known when the state vector was taken and returns what others wrote since', () => {
    const deleter = new BodyDocManager();
    const other = new BodyDocManager();
    const here = new BodyDocManager();
    deleter.setBody('x.md', 'old text\n');
    here.applyUpdate('x.md', deleter.encodeState('x.md'), ORIGIN_REMOTE);
    const known = Y.decodeStateVector(here.stateVector('x.md'));
    // Another device, which also had the old text, writes its own file there.
    other.applyUpdate('x.md', deleter.encodeState('x.md'), ORIGIN_REMOTE);
    other.replaceBody('x.md', 'their new text\n');
    here.applyUpdate('x.md', other.encodeState('x.md'), ORIGIN_REMOTE);
    const foreign = here.deleteKnownText('x.md', known);
    expect(foreign).not.toContain('old');
    expect(here.getBody('x.md')).toBe(foreign);
    expect(foreign).toBe('their new text\n');
  });

  it('keeps everything of other devices when nothing was known, and never this doc\'s own text', () => {
    const other = new BodyDocManager();
    const here = new BodyDocManager();
    other.setBody('x.md', 'theirs');
    here.setBody('x.md', 'mine ');
    here.applyUpdate('x.md', other.encodeState('x.md'), ORIGIN_REMOTE);
    const foreign = here.deleteKnownText('x.md', new Map());
    expect(foreign).toBe('theirs');
    expect(here.getBody('x.md')).toContain('mine');
    expect(here.getBody('x.md')).toContain('theirs');
  });

  it('splits an item that was only partly known', () => {
    const writer = new BodyDocManager();
    const here = new BodyDocManager();
    writer.setBody('x.md', 'abc');
    here.applyUpdate('x.md', writer.encodeState('x.md'), ORIGIN_REMOTE);
    const known = Y.decodeStateVector(here.stateVector('x.md'));
    writer.setBody('x.md', 'abcdef');
    here.applyUpdate('x.md', writer.encodeState('x.md'), ORIGIN_REMOTE);
    expect(here.deleteKnownText('x.md', known)).toBe('def');
    expect(here.getBody('x.md')).toBe('def');
  });
});

describe('deleteKnownText with text this device already had for the new file', () => {
  it('keeps that text (a doc moved onto the path) and deletes only the deleted file\'s', () => {
    const writer = new BodyDocManager();
    const here = new BodyDocManager();
    writer.setBody('old.md', 'deleted file text');
    here.applyUpdate('x.md', writer.encodeState('old.md'), ORIGIN_REMOTE);
    const known = Y.decodeStateVector(here.stateVector('x.md'));
    // The doc moved onto x.md holds another device's text as well.
    const moved = new BodyDocManager();
    moved.setBody('m.md', 'moved file text');
    const fresh = new BodyDocManager();
    fresh.applyUpdate('x.md', moved.encodeState('m.md'), ORIGIN_REMOTE);
    const mine = Y.decodeStateVector(fresh.stateVector('x.md'));
    fresh.applyUpdate('x.md', here.encodeState('x.md'), ORIGIN_REMOTE);
    expect(fresh.deleteKnownText('x.md', known, mine)).toBe('');
    expect(fresh.getBody('x.md')).toBe('moved file text');
  });
});

describe('textOf', () => {
  it('equals Y.Text#toString after any edits, deletes and merges', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(5), fc.string({ maxLength: 4 })), { maxLength: 40 }), (edits) => {
        const a = new Y.Doc();
        const b = new Y.Doc();
        for (const [pos, del, ins] of edits) {
          const target = pos % 2 === 0 ? a : b;
          const text = target.getText('body');
          const at = pos % (text.length + 1);
          text.delete(at, Math.min(del, text.length - at));
          text.insert(at, ins);
          if (pos % 3 === 0) Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
        }
        Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
        expect(textOf(a.getText('body'))).toBe(a.getText('body').toString());
      }),
    );
  });
});

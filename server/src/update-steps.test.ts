import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { deleteSetUpdate } from './testing/delete-set-update';
import { scanUpdate, updateSteps } from './update-steps';

/** A doc built from random edits of every content kind the plugin and its peers use. */
function randomDoc(ops: { kind: number; pos: number; text: string }[], clientID: number): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  edit(doc, ops);
  return doc;
}

function edit(doc: Y.Doc, ops: { kind: number; pos: number; text: string }[]): void {
  const text = doc.getText('body');
  const map = doc.getMap<unknown>('files');
  const arr = doc.getArray<unknown>('list');
  const xml = doc.getXmlFragment('xml');
  for (const op of ops) {
    doc.transact(() => {
      switch (op.kind) {
        case 0:
          text.insert(op.pos % (text.length + 1), op.text);
          break;
        case 1:
          if (text.length > 0) text.delete(op.pos % text.length, Math.min(op.text.length, text.length - (op.pos % text.length)));
          break;
        case 2:
          map.set(op.text || 'k', { n: op.pos, s: op.text });
          break;
        case 3:
          arr.insert(op.pos % (arr.length + 1), [op.text, op.pos, new Uint8Array([op.pos & 255]), null, true]);
          break;
        case 4:
          if (arr.length > 0) arr.delete(op.pos % arr.length, 1);
          break;
        case 5: {
          const el = new Y.XmlElement('p');
          el.insert(0, [new Y.XmlText(op.text)]);
          xml.insert(0, [el]);
          break;
        }
        case 6:
          text.format(0, Math.min(2, text.length), { bold: true });
          break;
        default:
          map.set(`sub${op.pos}`, new Y.Map());
      }
    });
  }
}

const opArb = fc.record({ kind: fc.integer({ min: 0, max: 7 }), pos: fc.nat(1000), text: fc.string({ maxLength: 6 }) });

describe('scanUpdate', () => {
  it('reads every update Yjs writes: the delete set starts where Yjs reads it, ranges counted', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const update = Y.encodeStateAsUpdate(randomDoc(ops, 11));
        const scan = scanUpdate(update, new Map());
        const { ds } = Y.decodeUpdate(update);
        let n = 0;
        for (const items of ds.clients.values()) n += items.length;
        expect(scan.rangeCount).toBe(n);
        expect(scan.unknownRanges).toBe(0);
        // The structs alone (empty delete set) decode to the same structs.
        const structsOnly = new Uint8Array([...update.subarray(0, scan.dsOffset), 0]);
        expect(Y.decodeUpdate(structsOnly).structs.length).toBe(Y.decodeUpdate(update).structs.length);
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it('refuses what Yjs cannot read: every truncation of an update throws', () => {
    const update = Y.encodeStateAsUpdate(randomDoc([{ kind: 0, pos: 0, text: 'héllo' }, { kind: 2, pos: 3, text: 'k' }, { kind: 5, pos: 0, text: 'x' }, { kind: 1, pos: 1, text: 'ab' }], 3));
    for (let cut = 0; cut < update.length; cut++) expect(() => scanUpdate(update.subarray(0, cut), new Map()), `cut at ${cut}`).toThrow();
    expect(() => scanUpdate(new Uint8Array([1, 1, 5, 0, 31, 1, 1, 97]), new Map())).toThrow(/content type/);
  });

  it('counts deleted ranges of items neither the document nor the update holds', () => {
    expect(scanUpdate(deleteSetUpdate(9, 100), new Map()).unknownRanges).toBe(100);
    // Items 0..99 known: ranges at clocks 0, 2, ..., 98 are known, 100..198 are not.
    expect(scanUpdate(deleteSetUpdate(9, 100), new Map([[9, 100]])).unknownRanges).toBe(50);
  });
});

describe('updateSteps', () => {
  it('gives the same document as the whole update, in steps of at most the given ranges', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.array(opArb, { maxLength: 30 }), fc.integer({ min: 1, max: 4 }), (base, more, perStep) => {
        const author = randomDoc(base, 21);
        const start = Y.encodeStateAsUpdate(author);
        // A second client edits on top, deleting some of the first client's items.
        const other = new Y.Doc();
        other.clientID = 22;
        Y.applyUpdate(other, start);
        const t = other.getText('body');
        if (t.length > 2) t.delete(1, t.length - 2);
        const a = other.getArray('list');
        if (a.length > 0) a.delete(0, a.length);
        edit(other, more);
        const update = Y.encodeStateAsUpdate(other);

        const whole = new Y.Doc();
        Y.applyUpdate(whole, start);
        Y.applyUpdate(whole, update);

        const stepped = new Y.Doc();
        Y.applyUpdate(stepped, start);
        const scan = scanUpdate(update, Y.decodeStateVector(Y.encodeStateVector(stepped)));
        const steps = updateSteps(update, scan, perStep);
        for (const step of steps) Y.applyUpdate(stepped, step);
        expect(Y.encodeStateAsUpdate(stepped)).toEqual(Y.encodeStateAsUpdate(whole));
        expect(stepped.getText('body').toString()).toBe(whole.getText('body').toString());
        if (scan.rangeCount > perStep) {
          expect(steps.length).toBe(1 + Math.ceil(scan.rangeCount / perStep));
          for (const step of steps.slice(1)) {
            let n = 0;
            for (const items of Y.decodeUpdate(step).ds.clients.values()) n += items.length;
            expect(n).toBeLessThanOrEqual(perStep);
          }
        } else {
          expect(steps).toEqual([update]);
        }
      }),
      { numRuns: 150, seed: 9 },
    );
  });

  it('cuts one client\'s long run of ranges and many clients with one range each', () => {
    const one = deleteSetUpdate(5, 10);
    const steps = updateSteps(one, scanUpdate(one, new Map([[5, 20]])), 3);
    expect(steps.length).toBe(1 + 4);
    const back = new Y.Doc();
    const src = new Y.Doc();
    src.clientID = 5;
    for (let i = 0; i < 20; i++) src.getText('t').insert(0, 'x'); // 20 separate items, clocks 0..19
    Y.applyUpdate(back, Y.encodeStateAsUpdate(src));
    for (const s of steps) Y.applyUpdate(back, s);
    expect(back.getText('t').length).toBe(10);
  });
});

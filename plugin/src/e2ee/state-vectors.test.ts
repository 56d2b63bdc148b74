import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { beyond, raiseByUpdate } from './state-vectors';

/** A doc of client `client` with "abcdef" typed in three updates of two characters. */
function typedInThreeParts(client: number): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc();
  doc.clientID = client;
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  for (const part of ['ab', 'cd', 'ef']) doc.getText('t').insert(doc.getText('t').length, part);
  return { doc, updates };
}

describe('server state vector', () => {
  it('rises by the clocks of each update seen, and tells when a doc holds more', () => {
    const doc = new Y.Doc();
    doc.clientID = 1;
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    doc.getText('t').insert(0, 'abc');
    doc.getText('t').insert(3, 'def');
    let sv: Uint8Array = Uint8Array.of(0);
    expect(beyond(Y.encodeStateVector(doc), sv)).toBe(true);
    sv = raiseByUpdate(sv, updates[0]);
    expect(Y.decodeStateVector(sv).get(1)).toBe(3);
    expect(beyond(Y.encodeStateVector(doc), sv)).toBe(true);
    sv = raiseByUpdate(sv, updates[1]);
    expect(beyond(Y.encodeStateVector(doc), sv)).toBe(false);
    // A lower update changes nothing.
    expect(raiseByUpdate(sv, updates[0])).toBe(sv);
    // What the doc holds beyond it is exactly what is missing.
    const fresh = new Y.Doc();
    Y.applyUpdate(fresh, updates[0]);
    Y.applyUpdate(fresh, Y.encodeStateAsUpdate(doc, raiseByUpdate(Uint8Array.of(0), updates[0])));
    expect(fresh.getText('t').toString()).toBe('abcdef');
  });

  it('does not rise past a hole: an update starting above the clock held counts only once what comes before it does', () => {
    const { doc, updates } = typedInThreeParts(7);
    let sv: Uint8Array = raiseByUpdate(Uint8Array.of(0), updates[0]);
    // The second Append was lost: the third alone leaves clock 2.
    sv = raiseByUpdate(sv, updates[2]);
    expect(Y.decodeStateVector(sv).get(7)).toBe(2);
    // So a restart's catch-up still carries "cd".
    const server = new Y.Doc();
    Y.applyUpdate(server, updates[0]);
    Y.applyUpdate(server, updates[2]);
    Y.applyUpdate(server, Y.encodeStateAsUpdate(doc, sv));
    expect(server.getText('t').toString()).toBe('abcdef');
    // Once the hole is filled, the clock continues.
    expect(Y.decodeStateVector(raiseByUpdate(sv, updates[1])).get(7)).toBe(4);
  });

  it('does not rise past a hole inside one update (a merged update of a doc waiting for structs)', () => {
    const { updates } = typedInThreeParts(9);
    const holed = Y.mergeUpdates([updates[0], updates[2]]);
    expect(Y.decodeStateVector(raiseByUpdate(Uint8Array.of(0), holed)).get(9)).toBe(2);
  });
});

import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { findConcurrentInserts } from './concurrent-edits';

function docWith(text: string, client: number): Y.Doc {
  const d = new Y.Doc();
  d.clientID = client;
  d.getText('body').insert(0, text);
  return d;
}

function fork(from: Y.Doc, client: number): Y.Doc {
  const d = new Y.Doc();
  d.clientID = client;
  Y.applyUpdate(d, Y.encodeStateAsUpdate(from));
  return d;
}

function edit(d: Y.Doc, f: (t: Y.Text) => void): Uint8Array {
  const before = Y.encodeStateVector(d);
  f(d.getText('body'));
  return Y.encodeStateAsUpdate(d, before);
}

describe('findConcurrentInserts', () => {
  const base = docWith('Shared line .\nOther line\n', 1);

  it('two devices typing at the same place at once', () => {
    const a = fork(base, 10);
    const b = fork(base, 20);
    edit(a, (t) => t.insert(12, 'edited by A'));
    const fromB = edit(b, (t) => t.insert(12, 'edited by B'));
    expect(findConcurrentInserts(a, 'body', fromB)).toEqual({ remote: [20], local: [10] });
    Y.applyUpdate(a, fromB);
    expect(a.getText('body').toString()).toMatch(/^Shared line edited by [AB]edited by [AB]\./);
  });

  it('an edit made after seeing the other one is not concurrent', () => {
    const a = fork(base, 10);
    const b = fork(base, 20);
    const fromA = edit(a, (t) => t.insert(12, 'edited by A'));
    Y.applyUpdate(b, fromA);
    expect(findConcurrentInserts(a, 'body', edit(b, (t) => t.insert(12, 'B before: ')))).toBeNull();
    expect(findConcurrentInserts(a, 'body', edit(b, (t) => t.insert(t.length, 'B at the end')))).toBeNull();
  });

  it('edits of different places at once merge without a report', () => {
    const a = fork(base, 10);
    const b = fork(base, 20);
    edit(a, (t) => t.insert(0, 'A: '));
    const fromB = edit(b, (t) => t.insert(t.length, 'B was here\n'));
    expect(findConcurrentInserts(a, 'body', fromB)).toBeNull();
  });

  it('a duplicate delivery and garbage are not reports', () => {
    const a = fork(base, 10);
    const b = fork(base, 20);
    edit(a, (t) => t.insert(12, 'x'));
    const fromB = edit(b, (t) => t.insert(12, 'y'));
    Y.applyUpdate(a, fromB);
    expect(findConcurrentInserts(a, 'body', fromB)).toBeNull();
    expect(findConcurrentInserts(a, 'body', new Uint8Array([1, 2, 3]))).toBeNull();
  });
});

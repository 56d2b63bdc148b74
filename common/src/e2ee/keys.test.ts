import { describe, expect, it } from 'vitest';
import { attachmentKey, bodyDocName, docKey, docTag, frameDocId, isDocTag, nameKey, WORKSPACE_DOC_NAME } from './keys';

const rk1 = Uint8Array.from({ length: 32 }, (_, i) => i);
const rk2 = new Uint8Array(32).fill(7);
const ws = 'ws-1234';

describe('derived keys and doc tags', () => {
  it('differ per workspace, doc and epoch; a path keeps its tag', () => {
    const kName = nameKey(rk1, ws);
    const a = docTag(kName, bodyDocName('notes/a.md'));
    expect(docTag(kName, 'body/notes/a.md')).toBe(a);
    expect(docTag(kName, WORKSPACE_DOC_NAME)).not.toBe(a);
    expect(docTag(nameKey(rk1, 'ws-other'), 'body/notes/a.md')).not.toBe(a);
    expect(docKey(rk1, ws, a)).not.toEqual(docKey(rk2, ws, a));
    expect(attachmentKey(rk1, ws)).not.toEqual(attachmentKey(rk2, ws));
  });

  it('builds frame doc ids within 227 bytes and refuses bad input', () => {
    const tag = docTag(nameKey(rk1, ws), 'workspace');
    expect(frameDocId(ws, tag)).toBe(`e2e:${ws}/${tag}`);
    expect(frameDocId(ws)).toBe(`e2e:${ws}`);
    expect(() => frameDocId('w'.repeat(201), tag)).toThrow(/at most 227/);
    expect(() => frameDocId(ws, 'not-a-tag')).toThrow(/not a doc tag/);
    expect(() => nameKey(new Uint8Array(16), ws)).toThrow(/16 bytes/);
    expect(() => docKey(rk1, '', tag)).toThrow(/workspace id is empty/);
    expect(() => bodyDocName('')).toThrow(/empty/);
  });
});

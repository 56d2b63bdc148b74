import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { activeWorkspaceFiles, readBodyText, readWorkspaceFiles, writeBodyText, writeFileMetadata } from './workspace-files';
import { emptyMetadata } from '../../common/src/workspace/metadata';

const meta = (filename: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ...emptyMetadata(filename), ...extra });

describe('workspace file table', () => {
  it('merges alias keys, skips temp files and bad values, sorts by key', () => {
    const doc = new Y.Doc();
    const files = doc.getMap('files');
    files.set('b.md', meta('b.md', { modified_at: 1 }));
    files.set('./b.md', meta('b.md', { modified_at: 5, title: 'newer' }));
    files.set('/a.md', meta('a.md', { deleted: true, modified_at: 3 }));
    files.set('a.md', meta('a.md', { modified_at: 3 }));
    files.set('x.md.tmp', meta('x.md.tmp'));
    files.set('broken.md', '{not json');
    files.set('wrong.md', JSON.stringify({ deleted: 'yes' }));
    files.set('obj.md', 42);
    const all = readWorkspaceFiles(doc);
    expect(all.map((f) => f.key)).toEqual(['a.md', 'b.md']);
    expect(all[0].metadata.deleted).toBe(false);
    expect(all[1].metadata.title).toBe('newer');
  });

  it('lists active files only and writes entries without their aliases', () => {
    const doc = new Y.Doc();
    doc.getMap('files').set('./n.md', meta('n.md'));
    writeFileMetadata(doc, 'n.md', { ...emptyMetadata('n.md'), deleted: true });
    writeFileMetadata(doc, 'm.md', emptyMetadata('m.md'));
    expect([...doc.getMap('files').keys()].sort()).toEqual(['m.md', 'n.md']);
    expect(activeWorkspaceFiles(doc).map((f) => f.key)).toEqual(['m.md']);
  });

  it('replaces a body around the common prefix and suffix', () => {
    const doc = new Y.Doc();
    writeBodyText(doc, 'Hello world');
    let updates = 0;
    doc.on('update', () => updates++);
    writeBodyText(doc, 'Hello world');
    expect(updates).toBe(0);
    writeBodyText(doc, 'Hello brave world');
    expect(readBodyText(doc)).toBe('Hello brave world');
    writeBodyText(doc, 'H😀 brave world');
    expect(readBodyText(doc)).toBe('H😀 brave world');
    writeBodyText(doc, 'H😁 brave world');
    expect(readBodyText(doc)).toBe('H😁 brave world');
    writeBodyText(doc, '');
    expect(readBodyText(doc)).toBe('');
  });
});

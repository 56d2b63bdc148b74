import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { isSkippedSnapshotPath, readSnapshotMarkdown, safeSnapshotPath } from './snapshot';

describe('snapshot paths', () => {
  it.each([
    ['a.md', 'a.md'],
    ['notes/./a.md', 'notes/a.md'],
    ['notes\\a.md', 'notes/a.md'],
    ['notes//a.md', 'notes/a.md'],
    ['../a.md', null],
    ['a/../../b.md', null],
    ['/etc/passwd', null],
    ['C:/x.md', null],
    ['\\\\server\\share.md', null],
    ['', null],
  ])('safeSnapshotPath(%j) = %j', (input, expected) => {
    expect(safeSnapshotPath(input)).toBe(expected);
  });

  it('skips dot files, AppleDouble, __MACOSX, Thumbs.db and desktop.ini', () => {
    for (const p of ['.git/x.md', 'a/.hidden.md', '._a.md', '__MACOSX/a.md', 'x/Thumbs.db', 'desktop.ini']) {
      expect(isSkippedSnapshotPath(p)).toBe(true);
    }
    expect(isSkippedSnapshotPath('notes/a.md')).toBe(false);
  });
});

describe('readSnapshotMarkdown', () => {
  it('parses markdown entries only and refuses too much uncompressed markdown', () => {
    const zip = zipSync({ 'a.md': strToU8('---\ntitle: A\n---\nbody'), 'img.png': new Uint8Array(10), 'dir/': new Uint8Array(0) });
    const files = readSnapshotMarkdown(zip, 1024, () => 5);
    expect(files.map((f) => [f.key, f.metadata.title, f.metadata.modified_at, f.body])).toEqual([['a.md', 'A', 5, 'body']]);
    expect(() => readSnapshotMarkdown(zipSync({ 'b.md': new Uint8Array(5000).fill(65) }), 1024, () => 0)).toThrow(/exceeds/);
    expect(() => readSnapshotMarkdown(zipSync({ 'c.md': new Uint8Array([0xff, 0xfe]) }), 1024, () => 0)).toThrow(/UTF-8/);
  });
});

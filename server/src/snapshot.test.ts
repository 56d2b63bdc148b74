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
  const limits = { maxEntries: 10, maxUnzippedBytes: 1024, maxFileBytes: 1024 };

  it('parses markdown entries only and refuses too much uncompressed markdown', async () => {
    const zip = zipSync({ 'a.md': strToU8('---\ntitle: A\n---\nbody'), 'img.png': new Uint8Array(10), 'dir/': new Uint8Array(0) });
    const files = await readSnapshotMarkdown(zip, limits, () => 5);
    expect(files.map((f) => [f.key, f.metadata.title, f.metadata.modified_at, f.body])).toEqual([['a.md', 'A', 5, 'body']]);
    await expect(readSnapshotMarkdown(zipSync({ 'b.md': new Uint8Array(5000).fill(65) }), { ...limits, maxFileBytes: 1e6 }, () => 0)).rejects.toThrow(/exceeds 1024 bytes/);
    await expect(readSnapshotMarkdown(zipSync({ 'c.md': new Uint8Array([0xff, 0xfe]) }), limits, () => 0)).rejects.toThrow(/UTF-8/);
  });

  it('counts inflated bytes, not the sizes the zip declares', async () => {
    const zip = zipSync({ 'b.md': new Uint8Array(5000).fill(65) });
    // Forge the declared uncompressed size (central directory, offset 24 of the entry) down to 10 bytes.
    const view = new DataView(zip.buffer, zip.byteOffset);
    const eocd = zip.byteLength - 22;
    const cd = view.getUint32(eocd + 16, true);
    view.setUint32(cd + 24, 10, true);
    await expect(readSnapshotMarkdown(zip, { ...limits, maxFileBytes: 1e6 }, () => 0)).rejects.toThrow(/exceeds 1024 bytes/);
  });

  it('refuses too many entries, unsafe paths and files over the per-file limit', async () => {
    const many = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}.md`, strToU8('x')]));
    await expect(readSnapshotMarkdown(zipSync(many), limits, () => 0)).rejects.toThrow(/11 entries; the limit is 10/);
    await expect(readSnapshotMarkdown(zipSync({ '../x.md': strToU8('x') }), limits, () => 0)).rejects.toThrow(/Unsafe path/);
    await expect(readSnapshotMarkdown(zipSync({ 'big.md': new Uint8Array(600).fill(66) }), { ...limits, maxFileBytes: 500 }, () => 0)).rejects.toThrow(/big.md is larger than 500 bytes/);
    await expect(readSnapshotMarkdown(new Uint8Array(100), limits, () => 0)).rejects.toThrow(/Invalid zip archive/);
  });
});

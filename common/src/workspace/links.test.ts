import { describe, expect, it } from 'vitest';
import { formatLink, normalizeWorkspacePath, parseLink, pathToTitle, rustTrim, toCanonical } from './links';

describe('parseLink', () => {
  it('markdown links', () => {
    expect(parseLink('[Utility Index](/Utility/utility_index.md)')).toEqual({
      title: 'Utility Index',
      path: 'Utility/utility_index.md',
      pathType: 'WorkspaceRoot',
    });
    expect(parseLink('[Parent](../index.md)')).toEqual({ title: 'Parent', path: '../index.md', pathType: 'Relative' });
    expect(parseLink('[My File](</My Folder/my file.md>)')).toEqual({
      title: 'My File',
      path: 'My Folder/my file.md',
      pathType: 'WorkspaceRoot',
    });
    expect(parseLink('[T](/path/file (1).md)').path).toBe('path/file (1).md');
    expect(parseLink('  [T](/a.md)  ').path).toBe('a.md');
  });

  it('plain paths', () => {
    expect(parseLink('/Utility/file.md')).toEqual({ title: null, path: 'Utility/file.md', pathType: 'WorkspaceRoot' });
    expect(parseLink('../parent.md').pathType).toBe('Relative');
    expect(parseLink('./x.md').pathType).toBe('Relative');
    expect(parseLink('child.md')).toEqual({ title: null, path: 'child.md', pathType: 'Ambiguous' });
  });

  it('malformed markdown falls back to a plain path', () => {
    expect(parseLink('[T](</a.md>x)')).toEqual({ title: null, path: '[T](</a.md>x)', pathType: 'Ambiguous' });
    expect(parseLink('[T] (a.md)').title).toBeNull();
    expect(parseLink('[T](a.md').title).toBeNull();
  });
});

describe('toCanonical', () => {
  it('resolves against the folder of the current file', () => {
    expect(toCanonical(parseLink('[Title](/Utility/file.md)'), 'Other/entry.md')).toBe('Utility/file.md');
    expect(toCanonical(parseLink('../index.md'), 'Folder/Sub/entry.md')).toBe('Folder/index.md');
    expect(toCanonical(parseLink('child.md'), 'Folder/index.md')).toBe('Folder/child.md');
    expect(toCanonical(parseLink('child.md'), 'index.md')).toBe('child.md');
    expect(toCanonical(parseLink('./a/./b/../c.md'), 'x/y.md')).toBe('x/a/c.md');
    expect(toCanonical(parseLink('../up.md'), 'root.md')).toBe('../up.md');
    expect(toCanonical(parseLink('/a//b/./c.md'), 'x.md')).toBe('a/b/c.md');
  });

  it('normalizeWorkspacePath keeps leading ..', () => {
    expect(normalizeWorkspacePath('../../a/../b.md')).toBe('../../b.md');
  });
});

describe('formatLink and pathToTitle', () => {
  it('formats workspace-root links', () => {
    expect(formatLink('Utility/utility_index.md', 'Utility Index')).toBe('[Utility Index](/Utility/utility_index.md)');
    expect(formatLink('My Folder/my file.md', 'My File')).toBe('[My File](</My Folder/my file.md>)');
    expect(formatLink('a(1).md', 'A')).toBe('[A](</a(1).md>)');
  });

  it('derives titles from file names', () => {
    expect(pathToTitle('utility_index.md')).toBe('Utility Index');
    expect(pathToTitle('Folder/my-file.md')).toBe('My File');
    expect(pathToTitle('2025.md')).toBe('2025');
    expect(pathToTitle('README.md')).toBe('README');
    expect(pathToTitle('daily_notes/my-day.md')).toBe('My Day');
    expect(pathToTitle('a__b--c.md')).toBe('A B C');
    expect(pathToTitle('.hidden')).toBe('.hidden');
    expect(pathToTitle('archive.tar.gz')).toBe('Archive.tar');
    expect(pathToTitle('élan.md')).toBe('élan');
    expect(pathToTitle('..')).toBe('..');
  });

  it('rustTrim keeps a BOM', () => {
    expect(rustTrim('\u00a0 x \u3000')).toBe('x');
    expect(rustTrim('\ufeffx')).toBe('\ufeffx');
  });
});

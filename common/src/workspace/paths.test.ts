import { describe, expect, it } from 'vitest';
import { aliasKeys, compareKeys, fileName, isTempFile, normalizeSyncKey, normalizeSyncPath, parentDir, PathError } from './paths';

function rejects(path: string, root?: string): PathError {
  try {
    normalizeSyncPath(path, root);
  } catch (e) {
    expect(e).toBeInstanceOf(PathError);
    expect((e as PathError).name).toBe('PathError');
    expect((e as PathError).path).toBe(path);
    return e as PathError;
  }
  throw new Error(`expected ${path} to be rejected`);
}

describe('normalizeSyncPath', () => {
  it('keeps plain workspace keys', () => {
    expect(normalizeSyncPath('notes/a.md')).toBe('notes/a.md');
    expect(normalizeSyncPath('README.md')).toBe('README.md');
  });

  it('strips leading ./ and / (alias keys)', () => {
    expect(normalizeSyncPath('./notes/a.md')).toBe('notes/a.md');
    expect(normalizeSyncPath('/notes/a.md')).toBe('notes/a.md');
    expect(normalizeSyncPath('/./notes/a.md')).toBe('notes/a.md');
    expect(normalizeSyncPath('././a.md')).toBe('a.md');
  });

  it('collapses empty and . components', () => {
    expect(normalizeSyncPath('notes//a.md')).toBe('notes/a.md');
    expect(normalizeSyncPath('notes/./a.md')).toBe('notes/a.md');
    expect(normalizeSyncPath('notes/')).toBe('notes');
  });

  it('converts backslashes before checking for ..', () => {
    expect(normalizeSyncPath('notes\\a.md')).toBe('notes/a.md');
    expect(normalizeSyncPath('.\\notes\\a.md')).toBe('notes/a.md');
    rejects('notes\\..\\secret.md');
  });

  it('strips the workspace root', () => {
    expect(normalizeSyncPath('/Users/alice/ws/notes/a.md', '/Users/alice/ws')).toBe('notes/a.md');
    expect(normalizeSyncPath('/Users/alice/ws/notes/a.md', '/Users/alice/ws/')).toBe('notes/a.md');
    expect(normalizeSyncPath('Users/alice/ws/notes/a.md', '/Users/alice/ws')).toBe('notes/a.md');
    expect(normalizeSyncPath('C:\\Users\\alice\\ws\\a.md', 'C:\\Users\\alice\\ws')).toBe('a.md');
    expect(normalizeSyncPath('notes/a.md', '/Users/alice/ws')).toBe('notes/a.md');
    expect(normalizeSyncPath('/notes/a.md', '/Users/alice/ws')).toBe('notes/a.md');
  });

  it('rejects absolute paths outside the root', () => {
    rejects('/Users/bob/a.md', '/Users/alice/ws');
    rejects('/Users/alice/wsx/a.md', '/Users/alice/ws');
    rejects('D:\\other\\a.md', 'C:\\ws');
    rejects('C:/x/a.md');
    rejects('//server/share/a.md');
  });

  it('rejects .., empty paths and NUL', () => {
    expect(rejects('../a.md').message).toContain('..');
    rejects('notes/../../a.md');
    rejects('..');
    rejects('');
    rejects('./');
    rejects('/');
    rejects('a\0b.md');
    rejects('/Users/alice/ws', '/Users/alice/ws');
  });
});

describe('normalizeSyncKey (lenient crate form)', () => {
  it('matches normalize_sync_path', () => {
    expect(normalizeSyncKey('./notes\\hello.md')).toBe('notes/hello.md');
    expect(normalizeSyncKey('/notes/hello.md')).toBe('notes/hello.md');
    expect(normalizeSyncKey('././/x.md')).toBe('x.md');
    expect(normalizeSyncKey('a//b.md')).toBe('a//b.md');
    expect(normalizeSyncKey('../x.md')).toBe('../x.md');
  });
});

describe('helpers', () => {
  it('isTempFile', () => {
    expect(isTempFile('a.md.tmp')).toBe(true);
    expect(isTempFile('a.md.bak')).toBe(true);
    expect(isTempFile('a.swap')).toBe(true);
    expect(isTempFile('a.md')).toBe(false);
    expect(isTempFile('tmp.md')).toBe(false);
  });

  it('aliasKeys', () => {
    expect(aliasKeys('notes/a.md')).toEqual(['./notes/a.md', '/notes/a.md']);
  });

  it('fileName and parentDir', () => {
    expect(fileName('notes/a.md')).toBe('a.md');
    expect(fileName('a.md')).toBe('a.md');
    expect(fileName('notes/..')).toBe('');
    expect(parentDir('notes/sub/a.md')).toBe('notes/sub');
    expect(parentDir('a.md')).toBe('');
  });

  it('compareKeys orders by code point', () => {
    expect(['b', 'a', '\u{1F600}', '\uFFFD'].sort(compareKeys)).toEqual(['a', 'b', '\uFFFD', '\u{1F600}']);
    expect(compareKeys('a', 'ab')).toBeLessThan(0);
    expect(compareKeys('x', 'x')).toBe(0);
  });
});

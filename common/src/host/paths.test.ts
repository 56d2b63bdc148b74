import { describe, expect, it } from 'vitest';
import { normalizeWorkspacePath, PathRefusedError } from './paths';

describe('host path rules', () => {
  it.each([
    ['a/b.md', 'a/b.md'],
    ['./a/b.md', 'a/b.md'],
    ['/a//b.md', 'a/b.md'],
    ['a\\b.md', 'a/b.md'],
    ['a/./b.md/', 'a/b.md'],
    ['', ''],
    ['.', ''],
  ])('%j is %j', (input, expected) => {
    expect(normalizeWorkspacePath(input)).toBe(expected);
  });

  it.each(['../x.md', 'a/../../x.md', 'a\\..\\x.md', 'a/b\0.md'])('%j is refused', (input) => {
    expect(() => normalizeWorkspacePath(input)).toThrow(PathRefusedError);
    expect(() => normalizeWorkspacePath(input)).toThrow(`Path traversal not allowed: ${input}`);
  });
});

import { describe, expect, it } from 'vitest';
import { parseFileMarkdown } from '../../../common/src/workspace/frontmatter';
import { SOURCE_FRONTMATTER_KEY, withSourceFrontmatter } from '../../../common/src/workspace/source-frontmatter';
import { mergeNonstructural, shouldMergeConcurrent } from './workspace-changes';

function read(key: string, text: string) {
  const parsed = parseFileMarkdown(key, text, () => 1_000);
  return { metadata: withSourceFrontmatter(parsed.metadata, text), body: parsed.body };
}

describe('concurrent front matter merges', () => {
  it('the recorded block is neither novel metadata nor taken from the other side', () => {
    const a = read('a.md', '---\ntitle: A\nupdated: 1000\n---\n').metadata;
    const b = { ...read('a.md', '---\ntitle: A\nupdated: 1500\nmood: ok\n---\n').metadata };
    const { [SOURCE_FRONTMATTER_KEY]: _hint, ...withoutHint } = b.extra;
    // A device without the key added a field; this side added nothing but has its block: no merge.
    expect(shouldMergeConcurrent(a, { ...b, extra: withoutHint })).toBe(false);
    const merged = mergeNonstructural({ ...b, extra: withoutHint }, a);
    expect(merged.extra[SOURCE_FRONTMATTER_KEY]).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { parseFileMarkdown, renderFileMarkdown } from './frontmatter';
import { frontmatterHead, renderFaithful, SOURCE_FRONTMATTER_KEY, withSourceFrontmatter } from './source-frontmatter';

const now = () => 1_000;
function read(key: string, text: string) {
  const parsed = parseFileMarkdown(key, text, now);
  return { metadata: withSourceFrontmatter(parsed.metadata, text), body: parsed.body };
}

describe('renderFaithful', () => {
  it('keeps the recorded block when a host filled the hash of an attachment reference', () => {
    const text = "---\ntitle: Photos\nattachments: ['_attachments/p.jpg']\n---\nbody\n";
    const { metadata, body } = read('a.md', text);
    const filled = {
      ...metadata,
      attachments: metadata.attachments.map((a) => ({ ...a, hash: 'ab'.repeat(32), size: 10, mime_type: 'image/jpeg', uploaded_at: 5 })),
    };
    expect(renderFaithful('a.md', filled, body, null)).toBe(text);
    // A reference the block does not state is not written from it.
    const other = { ...metadata, attachments: [{ ...metadata.attachments[0], path: '_attachments/q.jpg' }] };
    expect(renderFaithful('a.md', other, body, null)).not.toBe(text);
  });

  it('writes the recorded block as it was written', () => {
    const text = "---\n# note\ntitle: 'Quoted'\npart_of: \"[Trial Journal](/README.md)\"\n---\nbody\n";
    const { metadata, body } = read('a.md', text);
    expect(metadata.extra[SOURCE_FRONTMATTER_KEY]).toBe(frontmatterHead(text));
    expect(renderFaithful('a.md', metadata, body, null)).toBe(text);
    // Canonical would have changed the link title and added `updated`.
    expect(renderFileMarkdown(metadata, body)).toContain('[README](/README.md)');
  });

  it('a block in the original format is recorded as null, and written in that format', () => {
    const text = renderFileMarkdown(parseFileMarkdown('a.md', '---\ntitle: T\nupdated: 5000\n---\n', now).metadata, 'body\n');
    const { metadata, body } = read('a.md', text);
    expect(metadata.extra[SOURCE_FRONTMATTER_KEY]).toBeNull();
    expect(renderFaithful('a.md', metadata, body, '---\ntitle:   T\nupdated: 5000\n---\nold')).toBe(text);
  });

  it('a file without front matter stays without', () => {
    const { metadata, body } = read('plain.md', 'just text\n');
    expect(renderFaithful('plain.md', metadata, body, null)).toBe('just text\n');
    expect(renderFaithful('plain.md', { ...metadata, modified_at: 99_999 }, 'other\n', 'just text\n')).toBe('other\n');
  });

  it('a moved updated time rewrites only the updated line', () => {
    const text = '---\ntitle: T\nupdated: 2026-01-01T10:00:00Z\nlink: "[X Y](/x.md)"\n---\nb';
    const { metadata, body } = read('a.md', text);
    const out = renderFaithful('a.md', { ...metadata, modified_at: Date.UTC(2026, 0, 2) }, body, text);
    expect(out).toBe('---\ntitle: T\nupdated: "2026-01-02T00:00:00.000+00:00"\nlink: "[X Y](/x.md)"\n---\nb');
  });

  it('metadata the block does not state falls back to the disk block, then to the canonical form', () => {
    const text = '---\ntitle: Old\nupdated: 2026-01-01T10:00:00Z\n---\nb';
    const { metadata } = read('a.md', text);
    const changed = { ...metadata, title: 'New' };
    const disk = '---\nupdated: "2026-01-01T10:00:00.000+00:00"\ntitle:   New\n---\nold body';
    expect(renderFaithful('a.md', changed, 'b', disk)).toBe('---\nupdated: "2026-01-01T10:00:00.000+00:00"\ntitle:   New\n---\nb');
    expect(renderFaithful('a.md', changed, 'b', null)).toBe(renderFileMarkdown(changed, 'b'));
  });

  it('a block without updated is used only when the author wrote none', () => {
    const { metadata } = read('a.md', '---\ntitle: T\n---\nb');
    const timedSource = { ...metadata, extra: { [SOURCE_FRONTMATTER_KEY]: '---\ntitle: T\nupdated: 5\n---\n' }, modified_at: 5 };
    expect(renderFaithful('a.md', timedSource, 'b', '---\ntitle: T\n---\nb')).toBe('---\ntitle: T\nupdated: 5\n---\nb');
    const { [SOURCE_FRONTMATTER_KEY]: _dropped, ...noSource } = metadata.extra;
    expect(renderFaithful('a.md', { ...metadata, extra: noSource }, 'b', '---\ntitle: T\n---\nb')).toBe(renderFileMarkdown({ ...metadata, extra: noSource }, 'b'));
  });

  it('a body that would read as front matter never follows an empty block', () => {
    const { metadata } = read('a.md', 'text');
    const body = '---\ntitle: x\n---\n';
    expect(renderFaithful('a.md', metadata, body, null)).toBe(renderFileMarkdown(metadata, body));
  });
});

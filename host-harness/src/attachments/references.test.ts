import { describe, expect, it } from 'vitest';
import { mimeTypeOf } from '../../../common/src/workspace/mime-types';
import { bodyReferences, resolveLink } from './references';

describe('attachment references in a body', () => {
  it('finds local images and links, resolved from the entry folder or the root', () => {
    const body = [
      '![](/_attachments/photo.jpg) and ![a](pics/b.png "title")',
      '[report](<files/my report.pdf>) [next](other.md) [web](https://example.org/x.png) [top](#head)',
      '[up](../shared/c.gif) [escape](../../../etc/passwd) ![enc](pics/with%20space.png)',
      '[ref]: docs/ref.txt',
    ].join('\n');
    expect(bodyReferences('days/monday.md', body)).toEqual([
      '_attachments/photo.jpg',
      'days/files/my report.pdf',
      'days/pics/b.png',
      'days/pics/with space.png',
      'days/docs/ref.txt',
      'shared/c.gif',
    ].sort());
  });

  it('resolves links and refuses those that leave the workspace', () => {
    expect(resolveLink('a.md', '/x/../y.png')).toBe('y.png');
    expect(resolveLink('a.md', '../y.png')).toBeNull();
    expect(resolveLink('a.md', 'mailto:x@y')).toBeNull();
    expect(mimeTypeOf('a/B.JPG')).toBe('image/jpeg');
    expect(mimeTypeOf('a/b')).toBe('application/octet-stream');
  });
});

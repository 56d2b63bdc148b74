import { describe, expect, it } from 'vitest';
import type { SessionDocs } from '../sync/session-host';
import { DocIncarnations } from './doc-incarnations';

/** Body docs by key, each a guid (a new one when a doc is made again). */
function docsWith(guids: Map<string, string>): SessionDocs {
  const docs: Pick<SessionDocs, 'bodyDocGuid'> = { bodyDocGuid: (key) => guids.get(key) ?? null };
  return docs as SessionDocs;
}

describe('doc incarnations', () => {
  it('a body made again after its state was read into the old doc is remade, until its state starts over', () => {
    const guids = new Map([['a.md', 'one']]);
    const inc = new DocIncarnations(docsWith(guids));
    inc.pulled('body/a.md', false);
    inc.read('body/a.md', true);
    expect(inc.remade('body/a.md')).toBe(false);
    // Renamed away: no doc; back: another one.
    guids.delete('a.md');
    expect(inc.remade('body/a.md')).toBe(true);
    guids.set('a.md', 'two');
    expect(inc.remade('body/a.md')).toBe(true);
    // Its state starts over with the next Pull (from 0): it describes the new doc.
    inc.pulled('body/a.md', true);
    expect(inc.remade('body/a.md')).toBe(false);
  });

  it('an answer read into a doc made again while its Pull was out does not count', () => {
    const guids = new Map([['a.md', 'one']]);
    const inc = new DocIncarnations(docsWith(guids));
    inc.pulled('body/a.md', false);
    inc.read('body/a.md', true);
    inc.pulled('body/a.md', false);
    guids.set('a.md', 'two');
    inc.read('body/a.md', true);
    expect(inc.remade('body/a.md')).toBe(true);
  });

  it('knows nothing before a read (a restart), and a doc created by its first answer counts', () => {
    const guids = new Map<string, string>();
    const inc = new DocIncarnations(docsWith(guids));
    expect(inc.remade('body/a.md')).toBe(false);
    inc.pulled('body/a.md', false);
    guids.set('a.md', 'one');
    inc.read('body/a.md', true);
    expect(inc.remade('body/a.md')).toBe(false);
    expect(inc.remade('workspace')).toBe(false);
  });
});

/**
 * Front matter of local files into the workspace CRDT (title, part_of / contents link resolution, audience,
 * attachments, extra, updated -> modified_at), and MaterializeWorkspace's
 * rendering of the CRDT back into markdown in the original's format.
 */
import { describe, expect, it } from 'vitest';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { CLOCK_START, bodyOf, createFile, listFiles, markdown, meta, ok, openInitialised, readFile, useCleanup, writeFile } from './helpers';

useCleanup();

/** 2026-03-14T12:00:00Z */
const MARCH_14 = 1773489600000;

async function journal(ws: WorkspaceHost): Promise<void> {
  await createFile(
    ws,
    'README.md',
    markdown(
      [
        'title: My Journal',
        'contents:',
        '  - "[A](/notes/a.md)"',
        '  - notes/b-c.md',
        'audience: public',
        'description: "Root: index"',
        'updated: 2026-03-14T12:00:00Z',
        '_private: not synced',
      ].join('\n'),
      '\n# My Journal\n',
    ),
  );
  await createFile(
    ws,
    'notes/a.md',
    markdown(['title: Day one', 'part_of: ../README.md', 'tags: [x, y]', 'mood: ok', `updated: ${MARCH_14}`].join('\n'), 'Hello world\n'),
  );
}

describe('front matter into the CRDT', () => {
  it('title, links, audience, description, extra and updated land in FileMetadata', async () => {
    const ws = await openInitialised();
    await journal(ws);
    await createFile(
      ws,
      'notes/b-c.md',
      markdown(
        [
          'title: B C',
          'part_of: "[Journal](/README.md)"',
          'contents: []',
          'audience:',
          '  - family',
          '  - friends',
          'attachments:',
          '  - ../images/pic.png',
          'nested: {k: 1, list: [true, null, 2.5]}',
        ].join('\n'),
        'body bc\n',
      ),
    );
    await createFile(ws, 'notes/sub/deep.md', markdown(['title: 2025', 'part_of: ../a.md', 'audience: "   "', 'description: 42'].join('\n'), 'deep\n'));
    await createFile(ws, 'notes/plain.md', 'No front matter at all.\n');

    const files = Object.fromEntries(await listFiles(ws));
    expect(Object.keys(files)).toEqual(['README.md', 'notes/a.md', 'notes/b-c.md', 'notes/plain.md', 'notes/sub/deep.md']);

    expect(files['README.md']).toEqual(
      meta('README.md', {
        title: 'My Journal',
        contents: ['notes/a.md', 'notes/b-c.md'],
        audience: ['public'],
        description: 'Root: index',
        modified_at: MARCH_14,
      }),
    );
    expect(files['notes/a.md']).toEqual(
      meta('a.md', { title: 'Day one', part_of: 'README.md', extra: { tags: ['x', 'y'], mood: 'ok' }, modified_at: MARCH_14 }),
    );

    const bc = files['notes/b-c.md'];
    expect(bc).toMatchObject({
      filename: 'b-c.md',
      title: 'B C',
      part_of: 'README.md',
      contents: [],
      audience: ['family', 'friends'],
      attachments: [{ path: 'images/pic.png', source: 'local', hash: '', mime_type: '', size: 0, uploaded_at: null, deleted: false }],
      extra: { nested: { k: 1, list: [true, null, 2.5] } },
      deleted: false,
    });
    // No `updated`: the host clock at the time of the event.
    expect(bc.modified_at as number).toBeGreaterThan(CLOCK_START);

    // Numbers are not titles on this path, a blank audience is none, a relative part_of resolves from the file's folder.
    expect(files['notes/sub/deep.md']).toMatchObject({ title: null, description: null, audience: null, part_of: 'notes/a.md' });
    expect(files['notes/plain.md']).toMatchObject({ filename: 'plain.md', title: null, part_of: null, extra: {} });

    // Bodies are the text after the front matter.
    expect(await bodyOf(ws, 'README.md')).toBe('\n# My Journal\n');
    expect(await bodyOf(ws, 'notes/a.md')).toBe('Hello world\n');
    expect(await bodyOf(ws, 'notes/plain.md')).toBe('No front matter at all.\n');
  });

  it('a metadata-only save (body_changed: false) updates metadata and keeps the body doc', async () => {
    const ws = await openInitialised();
    await journal(ws);
    writeFile(ws.dir, 'notes/a.md', markdown(['title: Day one (renamed)', 'part_of: ../README.md', `updated: ${MARCH_14 + 1000}`].join('\n'), 'Hello world, changed on disk\n'));
    await ws.plugin.event('file_saved', { path: 'notes/a.md', body_changed: false });
    expect(await ok(ws, 'GetCrdtFile', { path: 'notes/a.md' })).toEqual(
      meta('a.md', { title: 'Day one (renamed)', part_of: 'README.md', modified_at: MARCH_14 + 1000 }),
    );
    expect(await bodyOf(ws, 'notes/a.md')).toBe('Hello world\n');
  });

  it('saving a child refreshes the parent index from disk', async () => {
    const ws = await openInitialised();
    await journal(ws);
    // The host edits README (adds a child) and reports only the child.
    writeFile(ws.dir, 'README.md', markdown(['title: My Journal', 'contents:', '  - notes/a.md', '  - notes/new.md', 'updated: 2026-03-14T12:00:01Z'].join('\n'), '\n# My Journal\n'));
    await createFile(ws, 'notes/new.md', markdown('title: New\npart_of: ../README.md', 'new child\n'));
    expect(await ok(ws, 'GetCrdtFile', { path: 'README.md' })).toMatchObject({ contents: ['notes/a.md', 'notes/new.md'], modified_at: MARCH_14 + 1000 });
  });
});

describe('MaterializeWorkspace', () => {
  it('renders every active file as front matter + body with the link and date formats', async () => {
    const ws = await openInitialised();
    await journal(ws);
    await createFile(ws, 'notes/b-c.md', markdown('title: B C\npart_of: ../README.md\ncontents: []', 'bc\n'));
    await createFile(ws, 'gone.md', markdown('title: Gone', 'x\n'));
    await ws.plugin.event('file_deleted', { path: 'gone.md' });

    const { files } = await ok<{ files: { path: string; content: string }[] }>(ws, 'MaterializeWorkspace');
    expect(files.map((f) => f.path)).toEqual(['README.md', 'notes/a.md', 'notes/b-c.md']);
    const byPath = Object.fromEntries(files.map((f) => [f.path, f.content]));

    expect(byPath['README.md']).toBe(
      [
        '---',
        'title: My Journal',
        'contents:',
        '  - "[A](/notes/a.md)"',
        '  - "[B C](/notes/b-c.md)"',
        'audience:',
        '  - public',
        'description: "Root: index"',
        'updated: "2026-03-14T12:00:00.000+00:00"',
        '---',
        '',
        '\n# My Journal\n',
      ].join('\n'),
    );

    // Extra keys follow the known ones; their order among themselves is not fixed.
    const a = byPath['notes/a.md'];
    const [head, body] = [a.slice(0, a.indexOf('\n---\n\n') + 6), a.slice(a.indexOf('\n---\n\n') + 6)];
    expect(body).toBe('Hello world\n');
    const lines = head.split('\n');
    expect(lines.slice(0, 4)).toEqual(['---', 'title: Day one', 'part_of: "[README](/README.md)"', 'updated: "2026-03-14T12:00:00.000+00:00"']);
    expect(lines.slice(4, 6).sort()).toEqual(['mood: ok', 'tags: [x, y]']);
    expect(lines.slice(6)).toEqual(['---', '', '']);

    const bc = byPath['notes/b-c.md'];
    expect(bc).toMatch(/^---\ntitle: B C\npart_of: "\[README\]\(\/README\.md\)"\ncontents: \[\]\nupdated: "20\d\d-[^"]+\+00:00"\n---\n\nbc\n$/);
  });

  it('materialised files read back into the same metadata in a fresh workspace', async () => {
    const ws = await openInitialised();
    await journal(ws);
    const { files } = await ok<{ files: { path: string; content: string }[] }>(ws, 'MaterializeWorkspace');

    const copy = await openInitialised();
    for (const f of files) await createFile(copy, f.path, f.content);
    const original = await listFiles(ws);
    const roundTrip = await listFiles(copy);
    expect(roundTrip).toEqual(original);
    // The written text is what was materialised.
    for (const f of files) expect(readFile(copy.dir, f.path)).toBe(f.content);
  });
});

import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  bodyForWrite,
  FrontmatterError,
  mergeWithDisk,
  parseDiskFrontmatter,
  parseFileMarkdown,
  renderFileMarkdown,
  renderFrontmatterYaml,
  splitFrontmatter,
  yamlString,
  yamlValue,
} from './frontmatter';
import { emptyMetadata, localBinaryRef, type FileMetadata, type JsonValue } from './metadata';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`frontmatter.test fast-check seed: ${seed} (set FC_SEED to replay)`);

const T = 1773489600000; // 2026-03-14T12:00:00Z
const now = (): number => 4242;

function meta(fields: Partial<FileMetadata>): FileMetadata {
  return { ...emptyMetadata(''), ...fields };
}

const readme = meta({
  filename: 'README.md',
  title: 'My Journal',
  contents: ['notes/a.md', 'notes/b-c.md'],
  description: 'Root: index',
  audience: ['public'],
  modified_at: T,
});
const noteA = meta({
  filename: 'a.md',
  title: 'Day one',
  part_of: 'README.md',
  extra: { tags: ['x', 'y'], mood: 'ok' },
  modified_at: T,
});

const README_TEXT =
  '---\n' +
  'title: My Journal\n' +
  'contents:\n' +
  '  - "[A](/notes/a.md)"\n' +
  '  - "[B C](/notes/b-c.md)"\n' +
  'audience:\n' +
  '  - public\n' +
  'description: "Root: index"\n' +
  'updated: "2026-03-14T12:00:00.000+00:00"\n' +
  '---\n' +
  '\n' +
  '# My Journal\n';

// Extra keys are written sorted (the original writes them in HashMap order).
const NOTE_A_TEXT =
  '---\n' +
  'title: Day one\n' +
  'part_of: "[README](/README.md)"\n' +
  'updated: "2026-03-14T12:00:00.000+00:00"\n' +
  'mood: ok\n' +
  'tags: [x, y]\n' +
  '---\n' +
  'Hello world\n';

describe('renderFileMarkdown: DERIVED examples (open-points 1)', () => {
  it('README.md byte for byte', () => {
    expect(renderFileMarkdown(readme, '\n# My Journal\n')).toBe(README_TEXT);
  });

  it('notes/a.md byte for byte', () => {
    expect(renderFileMarkdown(noteA, 'Hello world\n')).toBe(NOTE_A_TEXT);
  });

  it('contents: [] after part_of for an explicit empty list', () => {
    const yaml = renderFrontmatterYaml(meta({ title: 'Child', part_of: 'README.md', contents: [], modified_at: T }));
    expect(yaml).toBe('title: Child\npart_of: "[README](/README.md)"\ncontents: []\nupdated: "2026-03-14T12:00:00.000+00:00"');
  });

  it('quotes a numeric title', () => {
    expect(renderFrontmatterYaml(meta({ title: '2025', modified_at: T })).split('\n')[0]).toBe('title: "2025"');
  });

  it('reads the examples back into the CRDT entries', () => {
    expect(parseFileMarkdown('README.md', README_TEXT, now)).toEqual({ metadata: readme, body: '\n# My Journal\n' });
    expect(parseFileMarkdown('notes/a.md', NOTE_A_TEXT, now)).toEqual({ metadata: noteA, body: 'Hello world\n' });
  });
});

describe('emitter details', () => {
  it('yamlString quoting rules', () => {
    expect(yamlString('hello')).toBe('hello');
    expect(yamlString('hello world')).toBe('hello world');
    expect(yamlString('hello: world')).toBe('"hello: world"');
    expect(yamlString('has #comment')).toBe('"has #comment"');
    expect(yamlString('true')).toBe('"true"');
    expect(yamlString('Off')).toBe('"Off"');
    expect(yamlString('123')).toBe('"123"');
    expect(yamlString('1e3')).toBe('"1e3"');
    expect(yamlString('inf')).toBe('"inf"');
    expect(yamlString('-NaN')).toBe('"-NaN"');
    expect(yamlString('.5')).toBe('".5"');
    expect(yamlString('')).toBe('""');
    expect(yamlString(' leading space')).toBe('" leading space"');
    expect(yamlString('trailing ')).toBe('"trailing "');
    expect(yamlString('has "quotes"')).toBe('"has \\"quotes\\""');
    expect(yamlString('back\\slash: x')).toBe('"back\\\\slash: x"');
    expect(yamlString('a\nb')).toBe('"a\nb"');
    expect(yamlString('- dash, comma')).toBe('- dash, comma');
    expect(yamlString('1.2.3')).toBe('1.2.3');
    expect(yamlString('0x1F')).toBe('0x1F');
  });

  it('yamlValue forms', () => {
    const v: JsonValue = { b: [1, 'two'], a: null };
    expect(yamlValue(null)).toBe('null');
    expect(yamlValue(true)).toBe('true');
    expect(yamlValue(3)).toBe('3');
    expect(yamlValue(0.5)).toBe('0.5');
    expect(yamlValue('yes')).toBe('"yes"');
    expect(yamlValue(['a', 1, [true]])).toBe('[a, 1, [true]]');
    expect(yamlValue(v)).toBe('{"a":null,"b":[1,"two"]}');
  });

  it('links: angle brackets, existing links kept, relative values, attachments', () => {
    const yaml = renderFrontmatterYaml(
      meta({
        part_of: '[Parent Index](/folder/parent.md)',
        contents: ['My Folder/my file.md', 'folder/plain_path.md', 'x (1).md'],
        attachments: [localBinaryRef('_attachments/photo.png'), { ...localBinaryRef('a b/c.pdf'), hash: 'h' }],
        modified_at: 0,
      }),
    );
    expect(yaml).toBe(
      [
        'part_of: "[Parent Index](/folder/parent.md)"',
        'contents:',
        '  - "[My File](</My Folder/my file.md>)"',
        '  - "[Plain Path](/folder/plain_path.md)"',
        '  - "[X (1)](</x (1).md>)"',
        'attachments:',
        '  - "[photo.png](/_attachments/photo.png)"',
        '  - "[c.pdf](</a b/c.pdf>)"',
        'updated: "1970-01-01T00:00:00.000+00:00"',
      ].join('\n'),
    );
  });

  it('drops empty audience, skips _ keys, sorts extra keys', () => {
    const yaml = renderFrontmatterYaml(meta({ audience: [], extra: { z: 1, _body: 'x', a: 'b' }, modified_at: T }));
    expect(yaml).toBe('updated: "2026-03-14T12:00:00.000+00:00"\na: b\nz: 1');
  });

  it('updated: sign for far years, raw number outside chrono range', () => {
    expect(renderFrontmatterYaml(meta({ modified_at: -62198755200000 }))).toBe('updated: "-0001-01-01T00:00:00.000+00:00"');
    expect(renderFrontmatterYaml(meta({ modified_at: 253402300800000 }))).toBe('updated: "+10000-01-01T00:00:00.000+00:00"');
    expect(renderFrontmatterYaml(meta({ modified_at: 8.5e15 }))).toBe('updated: 8500000000000000');
  });
});

describe('splitFrontmatter', () => {
  it('needs an opening ---\\n and a closing \\n---\\n', () => {
    expect(splitFrontmatter('no front matter')).toEqual({ yaml: null, body: 'no front matter' });
    expect(splitFrontmatter('---\nunclosed')).toEqual({ yaml: null, body: '---\nunclosed' });
    expect(splitFrontmatter('---\n---\nbody')).toEqual({ yaml: null, body: '---\n---\nbody' });
    expect(splitFrontmatter('---\na: 1\n---\nbody')).toEqual({ yaml: 'a: 1', body: 'body' });
    expect(splitFrontmatter('---\na: 1\n---\n\nbody\n---\nx')).toEqual({ yaml: 'a: 1', body: '\nbody\n---\nx' });
    expect(splitFrontmatter('---\r\na: 1\r\n---\r\nbody')).toEqual({ yaml: '\na: 1\r', body: '\nbody' });
    expect(splitFrontmatter('---\na: 1\n---')).toEqual({ yaml: null, body: '---\na: 1\n---' });
  });
});

describe('parseFileMarkdown', () => {
  it('resolves links relative to the file folder', () => {
    const text = [
      '---',
      'part_of: ../index.md',
      'contents:',
      '  - child.md',
      '  - ./sub/x.md',
      '  - "[T](</Other Dir/y.md>)"',
      '  - "[T](/z.md)"',
      '  - 42',
      'attachments:',
      '  - _attachments/p.png',
      '  - {path: ignored.png}',
      '---',
      '',
    ].join('\n');
    const { metadata } = parseFileMarkdown('Folder/Sub/entry.md', text, now);
    expect(metadata.part_of).toBe('Folder/index.md');
    expect(metadata.contents).toEqual(['Folder/Sub/child.md', 'Folder/Sub/sub/x.md', 'Other Dir/y.md', 'z.md']);
    expect(metadata.attachments).toEqual([localBinaryRef('Folder/Sub/_attachments/p.png')]);
    expect(metadata.filename).toBe('entry.md');
  });

  it('audience: string trimmed, blank dropped, sequence of strings', () => {
    const a = (v: string): string[] | null => parseFileMarkdown('a.md', `---\naudience: ${v}\n---\n`, now).metadata.audience;
    expect(a('"  family "')).toEqual(['family']);
    expect(a('"  "')).toBeNull();
    expect(a('[a, 1, b]')).toEqual(['a', 'b']);
    expect(a('[]')).toEqual([]);
    expect(a('3')).toBeNull();
  });

  it('title and description only from strings; deleted from bools', () => {
    const { metadata } = parseFileMarkdown('a.md', '---\ntitle: 2025\ndescription: "2025"\ndeleted: true\n---\n', now);
    expect(metadata.title).toBeNull();
    expect(metadata.description).toBe('2025');
    expect(metadata.deleted).toBe(true);
    expect(parseFileMarkdown('a.md', '---\ntitle: 0123\n---\n', now).metadata.title).toBe('0123');
  });

  it('updated: integer, float, numeric string, RFC 3339, else now', () => {
    const u = (v: string): number => parseFileMarkdown('a.md', `---\nupdated: ${v}\n---\n`, now).metadata.modified_at;
    expect(u('1700000000000')).toBe(1700000000000);
    expect(u('1700000000000.9')).toBe(1700000000000);
    expect(u('"1700000000000"')).toBe(1700000000000);
    expect(u('"2026-03-14T12:00:00.000+00:00"')).toBe(T);
    expect(u('2026-03-14T13:00:00+01:00')).toBe(T);
    expect(u('2026-03-14T12:00:00Z')).toBe(T);
    expect(u('"2026-03-14"')).toBe(4242);
    expect(u('true')).toBe(4242);
    expect(parseFileMarkdown('a.md', 'no front matter', now).metadata.modified_at).toBe(4242);
  });

  it('extra: other keys except _-prefixed, converted to JSON', () => {
    const text = '---\ntags: [a, b]\n_private: 1\nfilename: x\nnested: {k: v, 2: n}\nbad: {~: 1}\nn: .nan\nhex: -0x10\nbin: 0b101\nfilename2: 007\n---\n';
    const { metadata } = parseFileMarkdown('a.md', text, now);
    expect(metadata.extra).toEqual({
      tags: ['a', 'b'],
      filename: 'x',
      nested: { k: 'v', '2': 'n' },
      n: null,
      hex: -16,
      bin: 5,
      filename2: '007',
    });
  });

  it('no front matter: empty metadata with the file name, whole text as body', () => {
    const { metadata, body } = parseFileMarkdown('notes/x.md', '# Title\n', now);
    expect(metadata).toEqual(meta({ filename: 'x.md', modified_at: 4242 }));
    expect(body).toBe('# Title\n');
  });

  it('a YAML error throws FrontmatterError with the path', () => {
    let err: unknown;
    try {
      parseFileMarkdown('notes/x.md', '---\ntitle: [unclosed\n---\nbody', now);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FrontmatterError);
    expect((err as Error).name).toBe('FrontmatterError');
    expect((err as Error).message).toMatch(/^Failed to parse frontmatter in notes\/x\.md: /);
    expect(() => parseFileMarkdown('a.md', '---\n- a\n- b\n---\n', now)).toThrow(FrontmatterError);
  });

  it('empty or comment-only front matter is an empty map', () => {
    expect(parseFileMarkdown('a.md', '---\n\n---\nbody', now).body).toBe('body');
    expect(parseFileMarkdown('a.md', '---\n# just a comment\n---\nbody', now).metadata.title).toBeNull();
  });

  it('a repeated key keeps the last value', () => {
    expect(parseFileMarkdown('a.md', '---\ntitle: one\ntitle: two\n---\n', now).metadata.title).toBe('two');
  });
});

describe('disk merge', () => {
  it('parseDiskFrontmatter keeps link strings as written', () => {
    const { metadata } = parseDiskFrontmatter('notes/a.md', NOTE_A_TEXT.replace('tags:', 'audience: solo\ntags:'), now);
    expect(metadata.part_of).toBe('[README](/README.md)');
    expect(metadata.audience).toBeNull();
    expect(metadata.modified_at).toBe(T);
  });

  it('mergeWithDisk: CRDT wins, disk fills unset fields, Some([]) kept', () => {
    const crdt = meta({ title: 'CRDT', contents: [], modified_at: 5, deleted: true });
    const disk = meta({
      filename: 'd.md',
      title: 'Disk',
      part_of: 'p.md',
      contents: ['c.md'],
      description: 'dd',
      audience: ['x'],
      attachments: [localBinaryRef('i.png')],
      extra: { k: 1 },
      modified_at: 9,
    });
    expect(mergeWithDisk(crdt, disk)).toEqual({
      filename: 'd.md',
      title: 'CRDT',
      part_of: 'p.md',
      contents: [],
      attachments: [localBinaryRef('i.png')],
      deleted: true,
      audience: ['x'],
      description: 'dd',
      extra: { k: 1 },
      modified_at: 5,
    });
    expect(mergeWithDisk(crdt, null)).toBe(crdt);
    expect(mergeWithDisk(meta({ extra: { a: 1 } }), disk).extra).toEqual({ a: 1 });
  });

  it('bodyForWrite keeps a non-empty disk body when the body doc is empty', () => {
    expect(bodyForWrite('', 'disk')).toBe('disk');
    expect(bodyForWrite('crdt', 'disk')).toBe('crdt');
    expect(bodyForWrite('', null)).toBe('');
  });
});

// ------------------------------------------------------------------ round trip

/** A string the emitter writes in a form YAML reads back unchanged (the emitter has known gaps, e.g. `,x`). */
function representable(s: string): boolean {
  try {
    const v = (parseYaml(`k: ${yamlString(s)}`) as { k: unknown }).k;
    return v === s;
  } catch {
    return false;
  }
}

const textChars = fc.constantFrom(...'abcXYZ019 _-.:#[]{}|>&*!?\'"%@`\\,~=+/()é中'.split(''));
const text = fc.string({ unit: textChars, maxLength: 12 }).filter(representable);
const segment = fc.string({ unit: fc.constantFrom(...'abcdXY09_- ()'.split('')), minLength: 1, maxLength: 8 }).filter(
  (s) => s.trim() === s && s !== '.' && s !== '..' && !s.startsWith('-'),
);
const key = fc
  .tuple(fc.array(segment, { maxLength: 2 }), segment)
  .map(([dirs, stem]) => [...dirs, `${stem}.md`].join('/'));
const extraKey = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/).filter(
  (k) => !['title', 'part_of', 'contents', 'attachments', 'deleted', 'audience', 'description', 'updated'].includes(k),
);
const scalarValue: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1e9, max: 1e9 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  text.filter((s) => !s.includes(',') && representable(`[${s}]`.slice(1, -1))),
);
const extraValue: fc.Arbitrary<JsonValue> = fc.oneof(
  scalarValue,
  fc.array(scalarValue.filter((v) => typeof v !== 'string' || /^[a-zA-Z0-9 _]*[a-zA-Z0-9_]$/.test(v)), { maxLength: 3 }),
  fc.dictionary(extraKey, fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxKeys: 2 }),
);

const representableMetadata = fc
  .record({
    path: key,
    title: fc.option(text, { nil: null }),
    part_of: fc.option(key, { nil: null }),
    contents: fc.option(fc.array(key, { maxLength: 3 }), { nil: null }),
    attachments: fc.array(key.map((k) => k.replace(/\.md$/, '.png')), { maxLength: 2 }),
    audience: fc.option(fc.array(text, { minLength: 1, maxLength: 3 }), { nil: null }),
    description: fc.option(text, { nil: null }),
    extra: fc.dictionary(extraKey, extraValue, { maxKeys: 4 }),
    modified_at: fc.integer({ min: 0, max: 253402300799999 }),
    body: fc.string({ maxLength: 40 }),
  })
  .map((r) => ({
    path: r.path,
    body: r.body,
    metadata: {
      filename: r.path.split('/').pop() as string,
      title: r.title,
      part_of: r.part_of,
      contents: r.contents,
      attachments: r.attachments.map(localBinaryRef),
      deleted: false,
      audience: r.audience,
      description: r.description,
      extra: r.extra,
      modified_at: r.modified_at,
    } satisfies FileMetadata,
  }));

describe('round trip (property)', () => {
  it('render then parse yields the same metadata and body', () => {
    fc.assert(
      fc.property(representableMetadata, ({ path, metadata, body }) => {
        const text = renderFileMarkdown(metadata, body);
        const parsed = parseFileMarkdown(path, text, () => -1);
        expect(parsed.body).toBe(body);
        expect(parsed.metadata).toEqual(metadata);
      }),
      { seed, numRuns: 300 },
    );
  });
});

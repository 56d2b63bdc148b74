import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  cloneMetadata,
  emptyMetadata,
  formatJsonNumber,
  metadataContentEqual,
  metadataEqual,
  parseMetadata,
  serializeMetadata,
  type FileMetadata,
} from './metadata';

const full: FileMetadata = {
  filename: 'a.md',
  title: 'Day one',
  part_of: 'README.md',
  contents: ['notes/b.md'],
  attachments: [
    { path: '_attachments/p.png', source: 'local', hash: 'ab', mime_type: 'image/png', size: 3, uploaded_at: null, deleted: false },
  ],
  deleted: false,
  audience: ['public'],
  description: 'desc',
  extra: { tags: ['x', 'y'], nested: { z: 1, a: true } },
  modified_at: 1773489600000,
};

describe('serializeMetadata', () => {
  it('writes the fields in serde order', () => {
    expect(serializeMetadata(emptyMetadata('x.md'))).toBe(
      '{"filename":"x.md","title":null,"part_of":null,"contents":null,"attachments":[],"deleted":false,' +
        '"audience":null,"description":null,"extra":{},"modified_at":0}',
    );
  });

  it('writes BinaryRef fields in order and nested objects with sorted keys', () => {
    const json = serializeMetadata(full);
    expect(json).toBe(
      '{"filename":"a.md","title":"Day one","part_of":"README.md","contents":["notes/b.md"],' +
        '"attachments":[{"path":"_attachments/p.png","source":"local","hash":"ab","mime_type":"image/png","size":3,"uploaded_at":null,"deleted":false}],' +
        '"deleted":false,"audience":["public"],"description":"desc",' +
        '"extra":{"nested":{"a":true,"z":1},"tags":["x","y"]},"modified_at":1773489600000}',
    );
  });

  it('round-trips through parseMetadata', () => {
    const back = parseMetadata(serializeMetadata(full));
    expect(back).toEqual(full);
  });
});

describe('parseMetadata', () => {
  it('defaults missing fields', () => {
    expect(parseMetadata('{}')).toEqual(emptyMetadata(''));
    expect(parseMetadata('{"title":"T"}')).toEqual({ ...emptyMetadata(''), title: 'T' });
  });

  it('converts numbers and booleans to strings for title and description', () => {
    const m = parseMetadata('{"title":2025,"description":true}');
    expect(m?.title).toBe('2025');
    expect(m?.description).toBe('true');
    expect(parseMetadata('{"title":1.5}')?.title).toBe('1.5');
  });

  it('rejects what serde rejects', () => {
    expect(parseMetadata('not json')).toBeNull();
    expect(parseMetadata('[]')).toBeNull();
    expect(parseMetadata('null')).toBeNull();
    expect(parseMetadata('{"title":["a"]}')).toBeNull();
    expect(parseMetadata('{"part_of":3}')).toBeNull();
    expect(parseMetadata('{"filename":null}')).toBeNull();
    expect(parseMetadata('{"deleted":"yes"}')).toBeNull();
    expect(parseMetadata('{"attachments":null}')).toBeNull();
    expect(parseMetadata('{"attachments":[{"path":"x"}]}')).toBeNull();
    expect(parseMetadata('{"contents":["a",1]}')).toBeNull();
    expect(parseMetadata('{"extra":[]}')).toBeNull();
    expect(parseMetadata('{"modified_at":1.5}')).toBeNull();
  });

  it('accepts null for optional fields and ignores unknown fields', () => {
    const m = parseMetadata('{"title":null,"contents":null,"audience":null,"unknown":5,"modified_at":7}');
    expect(m).toEqual({ ...emptyMetadata(''), modified_at: 7 });
  });

  it('accepts a BinaryRef without uploaded_at', () => {
    const m = parseMetadata('{"attachments":[{"path":"a","source":"local","hash":"","mime_type":"","size":0,"deleted":false}]}');
    expect(m?.attachments[0].uploaded_at).toBeNull();
  });
});

describe('equality', () => {
  it('content equality ignores modified_at only', () => {
    const a = cloneMetadata(full);
    const b = { ...cloneMetadata(full), modified_at: 1 };
    expect(metadataContentEqual(a, b)).toBe(true);
    expect(metadataEqual(a, b)).toBe(false);
    expect(metadataContentEqual(a, { ...b, extra: { ...b.extra, tags: ['x'] } })).toBe(false);
    expect(metadataContentEqual(a, { ...b, contents: null })).toBe(false);
    expect(metadataContentEqual(a, { ...b, extra: { tags: ['x', 'y'], nested: { a: true, z: 1 } } })).toBe(true);
  });

  it('cloneMetadata is deep', () => {
    const c = cloneMetadata(full);
    (c.extra.tags as string[]).push('z');
    c.contents?.push('q');
    expect(full.extra.tags).toEqual(['x', 'y']);
    expect(full.contents).toEqual(['notes/b.md']);
  });
});

describe('formatJsonNumber (serde_json number text)', () => {
  it('writes integers as digits and floats like ryu', () => {
    expect(formatJsonNumber(42)).toBe('42');
    expect(formatJsonNumber(-7)).toBe('-7');
    expect(formatJsonNumber(1e21)).toBe('1e21');
    expect(formatJsonNumber(2 ** 62)).toBe('4611686018427387904');
    expect(formatJsonNumber(1e16 + 0.5 * 0)).toBe('10000000000000000');
    expect(formatJsonNumber(0.1)).toBe('0.1');
    expect(formatJsonNumber(1.5)).toBe('1.5');
    expect(formatJsonNumber(1e-7)).toBe('1e-7');
    expect(formatJsonNumber(0.00012)).toBe('0.00012');
    expect(formatJsonNumber(1.5e300)).toBe('1.5e300');
    expect(formatJsonNumber(123.456)).toBe('123.456');
    expect(formatJsonNumber(-2.5e-10)).toBe('-2.5e-10');
  });

  it('canonicalJson sorts keys recursively', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'q' } })).toBe('{"a":{"c":"q","d":[1,{"x":1,"y":2}]},"b":1}');
  });
});

describe('the e2ee field of a BinaryRef', () => {
  const addr = 'ab'.repeat(32);
  const key = 'cd'.repeat(32);
  const plainRef = '{"path":"p.png","source":"local","hash":"","mime_type":"","size":0,"uploaded_at":null,"deleted":false}';

  it('is written after deleted only when present, and read back', () => {
    const m = emptyMetadata('x.md');
    m.attachments = [{ path: 'p.png', source: 'local', hash: '', mime_type: '', size: 0, uploaded_at: null, deleted: false }];
    expect(serializeMetadata(m)).toContain(`"attachments":[${plainRef}]`);
    m.attachments[0].e2ee = { addr, key, epoch: 2 };
    const json = serializeMetadata(m);
    expect(json).toContain(`"deleted":false,"e2ee":{"addr":"${addr}","key":"${key}","epoch":2}}]`);
    const back = parseMetadata(json)!;
    expect(back.attachments[0].e2ee).toEqual({ addr, key, epoch: 2 });
    expect(metadataEqual(back, m)).toBe(true);
  });

  it('takes part in equality and deep copies', () => {
    const m = emptyMetadata('x.md');
    m.attachments = [{ path: 'p.png', source: 'local', hash: 'h', mime_type: '', size: 1, uploaded_at: null, deleted: false, e2ee: { addr, key, epoch: 1 } }];
    const copy = cloneMetadata(m);
    copy.attachments[0].e2ee!.epoch = 3;
    expect(m.attachments[0].e2ee!.epoch).toBe(1);
    expect(metadataContentEqual(m, copy)).toBe(false);
    delete copy.attachments[0].e2ee;
    expect(metadataContentEqual(m, copy)).toBe(false);
  });

  it('drops a malformed e2ee field, as serde ignores a field it does not know, and keeps the entry', () => {
    for (const bad of ['1', '{"addr":"x","key":"' + key + '","epoch":1}', `{"addr":"${addr}","key":"${key}","epoch":0}`, `{"addr":"${addr.toUpperCase()}","key":"${key}","epoch":1}`]) {
      const m = parseMetadata(`{"attachments":[${plainRef.slice(0, -1)},"e2ee":${bad}}]}`);
      expect(m).not.toBeNull();
      expect(m!.attachments[0].e2ee).toBeUndefined();
    }
  });
});

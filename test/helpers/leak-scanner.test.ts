import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildNeedles, describeHits, innerBase64, keyNeedles, scan, stringNeedles, type Hit } from './leak-scanner';

const CANARY = 'CnryQx7bZt4KwP2m';
const source = (name: string, bytes: Uint8Array | string) => ({ name, bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes });
const encodings = (hits: Hit[]) => [...new Set(hits.map((h) => h.encoding))].sort();

describe('innerBase64', () => {
  it('is a substring of the encoding of the value between any bytes, at every alignment', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 40 }), fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), fc.boolean(), (value, before, after, url) => {
        const whole = Buffer.concat([before, value, after]).toString(url ? 'base64url' : 'base64');
        const inner = innerBase64(value, before.length % 3, url);
        expect(inner.length).toBeGreaterThanOrEqual(Math.floor((8 * value.length) / 6) - 2);
        expect(whole).toContain(inner);
      }),
    );
  });
});

describe('scan', () => {
  it('finds a string secret in each encoding, with its source and offset', () => {
    const utf8 = Buffer.from(CANARY);
    const sources = [
      source('plain', `{"path":"notes/${CANARY}.md"}`),
      source('utf16', Buffer.concat([Buffer.from('xx'), Buffer.from(`title ${CANARY}`, 'utf16le')])),
      source('lower', `slug: ${CANARY.toLowerCase()}-2`),
      source('hex', `id=${utf8.toString('hex')}`),
      source('HEX', `ID=${utf8.toString('hex').toUpperCase()}`),
      ...[0, 1, 2].map((k) => source(`b64-${k}`, `"data":"${Buffer.concat([randomBytes(k), utf8, randomBytes(5)]).toString('base64')}"`)),
      ...[3, 4, 5].map((k) => source(`b64url-${k}`, `?t=${Buffer.concat([randomBytes(k), utf8]).toString('base64url')}`)),
    ];
    const hits = scan(sources, stringNeedles('name', CANARY));
    const where = (name: string) => hits.filter((h) => h.source === name).map((h) => h.encoding);
    expect(hits.find((h) => h.source === 'plain')).toEqual({ label: 'name', encoding: 'utf8', source: 'plain', offset: 15 });
    expect(where('utf16')).toEqual(['utf16le']);
    expect(where('lower')).toEqual(['lower-utf8']);
    expect(where('hex')).toEqual(['hex']);
    expect(where('HEX')).toEqual(['HEX']);
    for (const k of [0, 1, 2]) expect(where(`b64-${k}`)).toEqual([`base64@${k}`]);
    // base64url differs from base64 only in `-_`: a run without them is one needle, named base64.
    for (const k of [0, 1, 2]) expect(where(`b64url-${k + 3}`)).toContain(`base64@${k}`);
  });

  it('tells base64url from base64 when the run holds - or _', () => {
    const key = Buffer.alloc(12, 0xfb);
    const hits = scan([source('url', `x${Buffer.concat([Buffer.from([9, 9]), key]).toString('base64url')}`)], keyNeedles('K', key));
    expect(encodings(hits)).toEqual(['base64url@2']);
  });

  it('finds every occurrence, and nothing in bytes without the secret', () => {
    const text = `${CANARY} and again ${CANARY}`;
    expect(scan([source('twice', text)], stringNeedles('c', CANARY)).map((h) => h.offset)).toEqual([0, CANARY.length + 11]);
    const noise = [source('random', randomBytes(1 << 20)), source('near miss', CANARY.slice(0, -1) + 'X' + CANARY.slice(1, -1))];
    expect(scan(noise, stringNeedles('c', CANARY))).toEqual([]);
  });

  it('finds raw key bytes as bytes, hex and base64, and field names', () => {
    const key = randomBytes(32);
    const stored = Buffer.concat([randomBytes(7), key, randomBytes(3)]);
    const sources = [
      source('db', stored),
      source('json', `{"k":"${Buffer.concat([Buffer.from([1]), key]).toString('base64')}"}`),
      source('log', `key ${key.toString('hex')}`),
      source('frame', Buffer.from('\x01part_of\x02')),
    ];
    const hits = scan(sources, buildNeedles({ keys: { RK: key }, fields: ['part_of'] }));
    expect(encodings(hits.filter((h) => h.label === 'RK'))).toEqual(['base64@1', 'hex', 'raw']);
    expect(hits.filter((h) => h.label === 'field part_of').map((h) => h.source)).toEqual(['frame']);
    expect(describeHits(hits)).toContain('RK as raw in db at 7');
  });

  it('keeps one needle per distinct pattern and refuses secrets too short to search for', () => {
    const lower = stringNeedles('f', 'part_of').map((n) => n.encoding);
    expect(lower).not.toContain('lower-utf8');
    expect(lower).toContain('utf8');
    expect(() => stringNeedles('short', 'abc')).toThrow(/secret short has 3 bytes/);
    expect(() => keyNeedles('k', new Uint8Array(4))).toThrow(/key k has 4 bytes/);
  });
});

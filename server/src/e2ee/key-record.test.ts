import { describe, expect, it } from 'vitest';
import { canonicalStoredRecord, serializeKeyRecord, validateKeyRecord } from './key-record';

const b64 = (n: number, fill = 1) => Buffer.alloc(n, fill).toString('base64');
const argon = { alg: 'argon2id', m: 19456, t: 2, p: 1, salt: b64(16) };
const valid = { v: 1, gen: 0, epoch: 1, kdf: argon, nonce: b64(24), wrapped: b64(48), ring: null };

describe('key record', () => {
  it('accepts the documented shapes and serialises them in one key order', () => {
    expect(validateKeyRecord(valid)).toEqual(valid);
    const scrypt = { ...valid, kdf: { salt: b64(16), p: 1, r: 8, log2n: 15, alg: 'scrypt' } };
    expect(serializeKeyRecord(validateKeyRecord(scrypt), 4)).toBe(
      `{"v":1,"gen":4,"epoch":1,"kdf":{"alg":"scrypt","log2n":15,"r":8,"p":1,"salt":"${b64(16)}"},"nonce":"${b64(24)}","wrapped":"${b64(48)}","ring":null}`,
    );
    const rotated = { ...valid, epoch: 3, ring: { nonce: b64(24), ct: b64(2 * 36 + 16) } };
    expect(validateKeyRecord(rotated).ring).toEqual(rotated.ring);
    // jsonb gives keys back in its own order: the canonical text does not depend on it.
    const reordered = JSON.stringify({ ring: null, wrapped: b64(48), nonce: b64(24), kdf: argon, epoch: 1, gen: 2, v: 1 });
    expect(canonicalStoredRecord(reordered)).toBe(serializeKeyRecord(validateKeyRecord(valid), 2));
  });

  it('names the field that is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [null, /the record must be an object/],
      [[], /the record must be an object/],
      [Object.fromEntries(Object.entries(valid).filter(([k]) => k !== 'gen')), /lacks "gen"/],
      [{ ...valid, gen: 1.5 }, /gen must be an integer/],
      [{ ...valid, epoch: 0 }, /epoch must be an integer from 1/],
      [{ ...valid, kdf: { ...argon, t: 1 } }, /kdf.t/],
      [{ ...valid, kdf: { ...argon, p: 2 } }, /kdf.p/],
      [{ ...valid, kdf: { ...argon, salt: b64(8) } }, /kdf.salt decodes to 8 bytes/],
      [{ ...valid, kdf: { ...argon, extra: 1 } }, /kdf has unknown field "extra"/],
      [{ ...valid, kdf: { alg: 'scrypt', log2n: 14, r: 8, p: 1, salt: b64(16) } }, /kdf.log2n/],
      [{ ...valid, wrapped: b64(32) }, /wrapped decodes to 32 bytes/],
      [{ ...valid, nonce: 'AAAA' + '=' }, /nonce must be padded base64/],
      [{ ...valid, epoch: 3, ring: { nonce: b64(24), ct: b64(52) } }, /ring.ct decodes to 52 bytes, expected \(epoch - 1\) x 36 \+ 16/],
      [{ ...valid, epoch: 2, ring: { nonce: b64(24), ct: b64(53) } }, /ring.ct decodes to 53 bytes/],
      [{ ...valid, ring: { nonce: b64(24), ct: b64(16) } }, /ring is null exactly while epoch is 1/],
      [{ ...valid, kdf: { ...argon, m: 262_145 } }, /kdf.m/],
    ];
    for (const [value, message] of cases) expect(() => validateKeyRecord(value)).toThrow(message);
  });
});

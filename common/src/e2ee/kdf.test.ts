import { describe, expect, it } from 'vitest';
import { base64Url, fromHex, str, toHex, u32 } from './bytes';
import { checkKdfParams, deriveKek, passphraseBytes, SCRYPT_DEFAULT } from './kdf';

describe('passphrase KDF', () => {
  it('normalises passphrases to NFC and refuses an empty one', () => {
    expect(toHex(passphraseBytes('e\u0301'))).toBe('c3a9');
    expect(passphraseBytes('\u00e9')).toEqual(passphraseBytes('e\u0301'));
    expect(() => passphraseBytes('')).toThrow('Passphrase is empty');
  });

  it('accepts the defaults and raised parameters, refuses weaker or huge ones and a wrong salt', () => {
    for (const ok of [{ alg: 'argon2id', m: 19456, t: 2, p: 1 }, { alg: 'argon2id', m: 65536, t: 3, p: 1 }, SCRYPT_DEFAULT, { alg: 'scrypt', log2n: 16, r: 8, p: 2 }] as const) {
      expect(() => checkKdfParams(ok)).not.toThrow();
    }
    expect(() => checkKdfParams({ alg: 'argon2id', m: 19455, t: 2, p: 1 })).toThrow(/m = 19455/);
    expect(() => checkKdfParams({ alg: 'argon2id', m: 19456, t: 2, p: 2 })).toThrow(/p = 2/);
    expect(() => checkKdfParams({ alg: 'argon2id', m: 19456.5, t: 2, p: 1 })).toThrow(/integer/);
    expect(() => checkKdfParams({ alg: 'scrypt', log2n: 19, r: 8, p: 1 })).toThrow(/log2n = 19/);
    expect(() => checkKdfParams({ alg: 'scrypt', log2n: 15, r: 7, p: 1 })).toThrow(/r = 7/);
    expect(() => deriveKek('pw', new Uint8Array(8), SCRYPT_DEFAULT)).toThrow(/salt has 8 bytes/);
  });
});

describe('byte encodings', () => {
  it('str, u32, hex and base64url as the formats define them', () => {
    expect([...str('ab')]).toEqual([2, 97, 98]);
    expect(() => str('x'.repeat(256))).toThrow(/at most 255/);
    expect([...u32(0x01020304)]).toEqual([4, 3, 2, 1]);
    expect(() => u32(2 ** 32)).toThrow(/not a u32/);
    expect(() => u32(-1)).toThrow(/not a u32/);
    expect(toHex(fromHex('00ff10'))).toBe('00ff10');
    expect(() => fromHex('abc')).toThrow(/not a hex/);
    expect(() => fromHex('zz')).toThrow(/not a hex/);
    expect(base64Url(Uint8Array.of(0xfb, 0xff))).toBe('-_8');
  });
});

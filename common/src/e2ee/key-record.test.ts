import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../base64';
import { changePassphrase, createKeyRecord, parseKeyRecord, rotateKey, unlockKeyRecord, type KeyRecord } from './key-record';

const ws = 'ws-keys';
const PASS = 'caf\u00e9 au lait'; // precomposed é
const PASS_NFD = 'cafe\u0301 au lait'; // e + combining acute: the same passphrase after NFC

// Each KDF run takes about half a second in Node: records are made once and reused.
const first = createKeyRecord(ws, PASS);

describe('key records', () => {
  it('create a random RK_1 wrapped under argon2id with the default parameters, and unlock with the passphrase in any normal form', () => {
    const { record, keys } = first;
    expect(record).toMatchObject({ v: 1, gen: 0, epoch: 1, ring: null, kdf: { alg: 'argon2id', m: 19456, t: 2, p: 1 } });
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    expect(keys.rootKeys.get(1)).toHaveLength(32);
    const unlocked = unlockKeyRecord(ws, JSON.parse(JSON.stringify(record)), PASS_NFD);
    expect(unlocked.epoch).toBe(1);
    expect(unlocked.rootKeys.get(1)).toEqual(keys.rootKeys.get(1));
    // Two records never share a key, salt or nonce.
    const other = createKeyRecord(ws, PASS, { kdf: 'scrypt' });
    expect(other.keys.rootKeys.get(1)).not.toEqual(keys.rootKeys.get(1));
    expect(other.record.kdf).toMatchObject({ alg: 'scrypt', log2n: 15, r: 8, p: 1 });
    expect(other.record.kdf.salt).not.toBe(record.kdf.salt);
    expect(unlockKeyRecord(ws, other.record, PASS).rootKeys.get(1)).toEqual(other.keys.rootKeys.get(1));
  });

  it('answer `Wrong passphrase` for another passphrase, another workspace or swapped KDF parameters', () => {
    const { record } = first;
    expect(() => unlockKeyRecord(ws, record, 'cafe au lait')).toThrow(/^Wrong passphrase$/);
    expect(() => unlockKeyRecord('ws-other', record, PASS)).toThrow(/^Wrong passphrase$/);
    const raised: KeyRecord = { ...record, kdf: { ...record.kdf, alg: 'argon2id', m: 19457, t: 2, p: 1 } };
    expect(() => unlockKeyRecord(ws, raised, PASS)).toThrow(/^Wrong passphrase$/);
  });

  it('re-wrap only on a passphrase change: same epoch, ring and root key; the old passphrase no longer opens it', () => {
    const changed = changePassphrase(first.record, first.keys, 'new words');
    expect(changed.gen).toBe(first.record.gen);
    expect(changed.epoch).toBe(1);
    expect(changed.kdf.salt).not.toBe(first.record.kdf.salt);
    expect(changed.wrapped).not.toBe(first.record.wrapped);
    expect(unlockKeyRecord(ws, changed, 'new words').rootKeys.get(1)).toEqual(first.keys.rootKeys.get(1));
    expect(() => unlockKeyRecord(ws, changed, PASS)).toThrow('Wrong passphrase');
  });

  it('keep every older epoch in the ring after rotations', () => {
    const second = rotateKey(first.record, first.keys, PASS, { kdf: 'scrypt' });
    const third = rotateKey(second.record, second.keys, PASS);
    expect(third.record.epoch).toBe(3);
    expect(third.record.ring).not.toBeNull();
    const unlocked = unlockKeyRecord(ws, third.record, PASS);
    expect([...unlocked.rootKeys.keys()].sort()).toEqual([1, 2, 3]);
    for (const e of [1, 2, 3]) expect(unlocked.rootKeys.get(e)).toEqual(third.keys.rootKeys.get(e));
    expect(unlocked.rootKeys.get(3)).not.toEqual(unlocked.rootKeys.get(2));
    // A ring of another epoch does not fit; a changed ring byte does not open.
    expect(() => parseKeyRecord({ ...second.record, ring: third.record.ring })).toThrow(/ct has 88 bytes, expected 52/);
    const ct = decodeBase64(third.record.ring!.ct);
    ct[5] ^= 1;
    const tampered = { ...third.record, ring: { ...third.record.ring!, ct: encodeBase64(ct) } };
    expect(() => unlockKeyRecord(ws, tampered, PASS)).toThrow('Invalid key record: the ring does not open under the key of epoch 3');
    // A passphrase change at epoch 3 keeps the ring byte-identical.
    const changed = changePassphrase(third.record, unlocked, 'other');
    expect(changed.ring).toEqual(third.record.ring);
    expect(unlockKeyRecord(ws, changed, 'other').rootKeys.get(1)).toEqual(first.keys.rootKeys.get(1));
  });

  it('refuse malformed records, naming the field, and KDF parameters below the floor', () => {
    const r = first.record as unknown as Record<string, unknown>;
    const cases: [unknown, RegExp][] = [
      [null, /expected a JSON object/],
      [{ ...r, v: 2 }, /version 2/],
      [{ ...r, gen: -1 }, /gen must be/],
      [{ ...r, epoch: 0 }, /epoch must be/],
      [{ ...r, kdf: { ...first.record.kdf, alg: 'pbkdf2' } }, /kdf.alg "pbkdf2"/],
      [{ ...r, kdf: { ...first.record.kdf, m: 1024 } }, /argon2id parameter m = 1024/],
      [{ ...r, kdf: { ...first.record.kdf, t: 1 } }, /parameter t = 1/],
      [{ ...r, kdf: { alg: 'scrypt', log2n: 14, r: 8, p: 1, salt: first.record.kdf.salt } }, /log2n = 14/],
      [{ ...r, kdf: { ...first.record.kdf, m: 1 << 30 } }, /parameter m/],
      [{ ...r, nonce: 'AAAA' }, /nonce has 3 bytes/],
      [{ ...r, wrapped: 'not base64!' }, /wrapped is not base64/],
      [{ ...r, ring: undefined }, /ring must be/],
      [{ ...r, ring: { nonce: first.record.nonce, ct: 'AAAA' } }, /ct has 3 bytes/],
    ];
    for (const [value, message] of cases) {
      expect(() => parseKeyRecord(value)).toThrow(/^Invalid key record: /);
      expect(() => parseKeyRecord(value)).toThrow(message);
    }
    expect(() => createKeyRecord(ws, '')).toThrow(/Passphrase is empty/);
    expect(() => createKeyRecord(ws, PASS, { kdf: { alg: 'scrypt', log2n: 10, r: 8, p: 1 } })).toThrow(/log2n = 10/);
  });
});

/**
 * The end-to-end encryption derivations and the KEK vector checked against
 * Node's own crypto (OpenSSL), an implementation independent of @noble.
 */
import { createHmac, hkdfSync, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../common/src/e2ee/bytes';
import { attachmentKey, docKey, docTag, isDocTag, nameKey } from '../../common/src/e2ee/keys';
import { FIXTURE, KDF_KNOWN_ANSWERS } from '../../common/src/e2ee/known-answers';

const rk1 = Uint8Array.from({ length: 32 }, (_, i) => i);
const rk2 = new Uint8Array(32).fill(7);
const ws = 'ws-1234';

describe('e2ee derivations against node:crypto', () => {
  it('K_name, K_doc, K_att are HKDF-SHA256 and the doc tag HMAC-SHA256 with the documented labels', () => {
    const hk = (ikm: Uint8Array, info: string) => new Uint8Array(hkdfSync('sha256', ikm, Buffer.from(ws), Buffer.from(info), 32));
    expect(nameKey(rk1, ws)).toEqual(hk(rk1, 'diaryx-e2ee-v1 name'));
    const tag = docTag(nameKey(rk1, ws), 'body/notes/a.md');
    const mac = createHmac('sha256', nameKey(rk1, ws)).update('body/notes/a.md').digest();
    expect(tag).toBe(mac.subarray(0, 16).toString('base64url'));
    expect(tag).toHaveLength(22);
    expect(isDocTag(tag)).toBe(true);
    expect(docKey(rk2, ws, tag)).toEqual(hk(rk2, `diaryx-e2ee-v1 doc ${tag}`));
    expect(attachmentKey(rk2, ws)).toEqual(hk(rk2, 'diaryx-e2ee-v1 attachment'));
  });

  it('the scrypt KEK vector is what node:crypto computes from the NFC passphrase', () => {
    const kek = scryptSync(Buffer.from(utf8(FIXTURE.passphrase.normalize('NFC'))), Buffer.from(FIXTURE.salt), 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 << 20 });
    expect(toHex(kek)).toBe(KDF_KNOWN_ANSWERS.scrypt.expected);
  });
});

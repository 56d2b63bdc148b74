/**
 * Known-answer vectors of the end-to-end encryption primitives and formats,
 * run by the unit tests in Node and by the plugin's `E2eeSelfTest` command
 * inside the built .wasm, so both show they compute the same bytes:
 * published vectors for the primitives, and vectors of this project's own
 * formats (doc tag, envelopes, KEK with the default parameters) computed once
 * in Node with the same code.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { argon2id } from '@noble/hashes/argon2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, utf8 } from './bytes';
import { sealEnvelope } from './envelope';
import type { EnvelopeHeader } from './envelope-header';
import { ARGON2ID_DEFAULT, deriveKek, SCRYPT_DEFAULT } from './kdf';
import { docKey, docTag, nameKey } from './keys';

export interface KnownAnswer {
  name: string;
  /** Lowercase hex (or the text itself for doc tags). */
  expected: string;
  compute(): Uint8Array | string;
}

const range = (start: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 255);
const fill = (byte: number, n: number): Uint8Array => new Uint8Array(n).fill(byte);

/** The fixed inputs of the format vectors. */
export const FIXTURE = {
  workspaceId: 'known-answer-workspace',
  rootKey: range(0, 32),
  docName: 'body/notes/2024-01-01.md',
  nonce: range(0x40, 24),
  passphrase: 'correct horse battery staple \u00e9',
  salt: range(0xa0, 16),
};

export const FIXTURE_UPDATE_HEADER: EnvelopeHeader = { kind: 'update', epoch: 1, deviceId: fill(0x11, 16), run: 7, ctr: 3 };
export const FIXTURE_SNAPSHOT_HEADER: EnvelopeHeader = {
  kind: 'snapshot',
  epoch: 1,
  deviceId: fill(0x11, 16),
  run: 7,
  ctr: 0,
  snapshot: { snapId: fill(0x22, 16), prevSnapId: fill(0, 16), coversSeq: 42 },
};

export function fixtureDocTag(): string {
  return docTag(nameKey(FIXTURE.rootKey, FIXTURE.workspaceId), FIXTURE.docName);
}

export function fixtureDocKey(): Uint8Array {
  return docKey(FIXTURE.rootKey, FIXTURE.workspaceId, fixtureDocTag());
}

function fixtureEnvelope(header: EnvelopeHeader, payload: Uint8Array): Uint8Array {
  return sealEnvelope(fixtureDocKey(), { workspaceId: FIXTURE.workspaceId, docTag: fixtureDocTag() }, header, payload, FIXTURE.nonce);
}

const SUNSCREEN = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

/** Cheap vectors: run by every self-test. */
export const KNOWN_ANSWERS: KnownAnswer[] = [
  {
    name: 'XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 A.3.1)',
    expected:
      'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452' +
      '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52ec0875924c1c7987947deafd8780acf49',
    compute: () => xchacha20poly1305(range(0x80, 32), range(0x40, 24), fromHex('50515253c0c1c2c3c4c5c6c7')).encrypt(utf8(SUNSCREEN)),
  },
  {
    name: 'XChaCha20-Poly1305 decrypt (draft-irtf-cfrg-xchacha-03 A.3.1)',
    expected: Array.from(utf8(SUNSCREEN), (b) => b.toString(16).padStart(2, '0')).join(''),
    compute: () => xchacha20poly1305(range(0x80, 32), range(0x40, 24), fromHex('50515253c0c1c2c3c4c5c6c7')).decrypt(fromHex(KNOWN_ANSWERS[0].expected)),
  },
  {
    name: 'HKDF-SHA256 (RFC 5869 A.1)',
    expected: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    compute: () => hkdf(sha256, fill(0x0b, 22), range(0, 13), range(0xf0, 10), 42),
  },
  {
    name: 'HMAC-SHA256 (RFC 4231 case 2)',
    expected: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    compute: () => hmac(sha256, utf8('Jefe'), utf8('what do ya want for nothing?')),
  },
  {
    name: 'SHA-256 (FIPS 180-2 "abc")',
    expected: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    compute: () => sha256(utf8('abc')),
  },
  {
    name: 'argon2id (RFC 9106 5.3)',
    expected: '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659',
    compute: () => argon2id(fill(1, 32), fill(2, 16), { t: 3, m: 32, p: 4, key: fill(3, 8), personalization: fill(4, 12), dkLen: 32 }),
  },
  {
    name: 'scrypt (RFC 7914 12, N=16 r=1 p=1)',
    expected: '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
    compute: () => scrypt(new Uint8Array(0), new Uint8Array(0), { N: 16, r: 1, p: 1, dkLen: 64 }),
  },
  {
    name: 'passphrase NFC (e + combining acute -> U+00E9)',
    expected: '63c3a9',
    compute: () => utf8('ce\u0301'.normalize('NFC')),
  },
  { name: 'doc tag', expected: 'wuCB-jqXbazQZiPaKF5EWA', compute: fixtureDocTag },
  { name: 'K_doc', expected: 'b3518b65e1c5cba0e0f22fd1b73998c4464968bfe81fe9d0e6fc1b9133afdf9f', compute: fixtureDocKey },
  { name: 'update envelope', expected:
      '010101000000111111111111111111111111111111110700000003000000404142434445464748494a4b4c4d4e4f5051525354555657ac3c4d8b3ff170fd4627' +
      '5f8311b346a8f5b5058764f6152deadba5a97f7f6e1f05dff980d6ed70b36234fff4f5a419453ef35f1375ad11c8ae390cc90647022c058a705167fa6ed7b2a1' +
      '1f22c70d66bbb928939aab531923b1e5bc3096266c1bbf2a9ed9f49c8ec4ee6407f0d1bcc4a91372965929041f1bf7cb582170a944c1d5c88c1492227bb0a9f1' +
      '0c3a33bc56b64f96b7fd9daf6383ed86c6c1a6870f209e117636e89ad2967bda22840596fb10e381d804a354a9c217a7891ac1d911207a007399b80241b04834' +
      '1d100ef4d15343765ae80a800f81da96c85a9467df6f822b999b1dbbc7e7e90c2ada3e56ed0c3814060bb917c8dca1cf7cc2cee1cac8bd32ee506179280a32a8' +
      '611e49fcf415', compute: () => fixtureEnvelope(FIXTURE_UPDATE_HEADER, utf8('hello, encrypted world')) },
  { name: 'snapshot envelope (SHA-256)', expected: '9641c4116a23057fa4ec0aad5da142560805ff4a5936213d503eebf0f7203991', compute: () => sha256(fixtureEnvelope(FIXTURE_SNAPSHOT_HEADER, range(0, 300))) },
];

/** KEKs with the default parameters (seconds each inside the plugin): run on request only. */
export const KDF_KNOWN_ANSWERS: Record<'argon2id' | 'scrypt', KnownAnswer> = {
  argon2id: {
    name: 'KEK argon2id m=19456 t=2 p=1',
    expected: '6f74bb1ab2407dee039ee362225f36afc70bbc299dd8a324c700e5f888afc16d',
    compute: () => deriveKek(FIXTURE.passphrase, FIXTURE.salt, ARGON2ID_DEFAULT),
  },
  scrypt: {
    name: 'KEK scrypt N=2^15 r=8 p=1',
    expected: 'eea754176c9f95fc31958396a83827dcbd9a90d339c82c9cccf44ba2ddceadd8',
    compute: () => deriveKek(FIXTURE.passphrase, FIXTURE.salt, SCRYPT_DEFAULT),
  },
};

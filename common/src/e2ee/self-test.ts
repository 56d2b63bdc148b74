/**
 * The end-to-end encryption self-test: the known answers, envelope round
 * trips, tamper and transplant checks, nonce uniqueness and, on request, the
 * KDF with the default parameters and its time. The same function runs in the
 * unit tests (Node) and as the plugin command `E2eeSelfTest` (QuickJS).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { encodeBase64 } from '../base64';
import { equalBytes, toHex, utf8 } from './bytes';
import { envelopeAad, EnvelopeRejectedError, MissingKeyError, openEnvelope, randomNonce, sealEnvelope, type EnvelopeContext } from './envelope';
import { encodeEnvelopeHeader, NONCE_BYTES, type EnvelopeHeader } from './envelope-header';
import { ARGON2ID_DEFAULT, SCRYPT_DEFAULT, type KdfAlgorithm, type KdfParams } from './kdf';
import { docKey, docTag, nameKey } from './keys';
import { FIXTURE, FIXTURE_UPDATE_HEADER, fixtureDocKey, fixtureDocTag, KDF_KNOWN_ANSWERS, KNOWN_ANSWERS, type KnownAnswer } from './known-answers';

export interface SelfTestCheck {
  name: string;
  pass: boolean;
  /** What was computed (hex, or the doc tag), for known answers. */
  output?: string;
  /** Why a check failed, or what it counted. */
  detail?: string;
  /** How long the check took. */
  ms?: number;
}

export interface SelfTestReport {
  passed: boolean;
  checks: SelfTestCheck[];
  /** The KDF run with the default parameters, when asked for. */
  kdf: { params: KdfParams; ms: number } | null;
  /** The nonces drawn (base64, 24 bytes each), when asked for. */
  nonces: string | null;
}

export interface SelfTestOptions {
  /** Also derive a KEK with this algorithm's default parameters (seconds in the plugin). */
  kdf?: KdfAlgorithm;
  /** Draw this many nonces, check they are distinct and return them. */
  nonces?: number;
  now?: () => number;
}

export const MAX_SELF_TEST_NONCES = 100_000;

function knownAnswer(k: KnownAnswer): SelfTestCheck {
  try {
    const got = k.compute();
    const output = typeof got === 'string' ? got : toHex(got);
    return { name: k.name, pass: output === k.expected, output };
  } catch (e) {
    return { name: k.name, pass: false, detail: `threw ${String(e)}` };
  }
}

function check(name: string, body: () => string | null): SelfTestCheck {
  try {
    const failure = body();
    return failure === null ? { name, pass: true } : { name, pass: false, detail: failure };
  } catch (e) {
    return { name, pass: false, detail: `threw ${String(e)}` };
  }
}

/** Null when opening `bytes` is refused as it must be; else what happened. */
function refusal(bytes: Uint8Array, ctx: EnvelopeContext, keys: (epoch: number) => Uint8Array | undefined, allowMissingKey = false): string | null {
  try {
    openEnvelope(bytes, ctx, keys);
    return 'opened';
  } catch (e) {
    if (e instanceof EnvelopeRejectedError && e.message === `Envelope rejected: ${ctx.docTag}`) return null;
    if (allowMissingKey && e instanceof MissingKeyError) return null;
    return `wrong error: ${String(e)}`;
  }
}

interface EnvelopeFixture {
  ctx: EnvelopeContext;
  key1: Uint8Array;
  keys: (epoch: number) => Uint8Array | undefined;
  sealed: Uint8Array;
}

function envelopeFixture(): EnvelopeFixture {
  const ctx: EnvelopeContext = { workspaceId: FIXTURE.workspaceId, docTag: fixtureDocTag() };
  const key1 = fixtureDocKey();
  // A second epoch this device also holds: an envelope relabelled to it must fail too.
  const rootKey2 = new Uint8Array(32).fill(0x5a);
  const key2 = docKey(rootKey2, FIXTURE.workspaceId, ctx.docTag);
  const keys = (epoch: number) => (epoch === 1 ? key1 : epoch === 2 ? key2 : undefined);
  const sealed = sealEnvelope(key1, ctx, FIXTURE_UPDATE_HEADER, utf8('a small update'));
  return { ctx, key1, keys, sealed };
}

const ENVELOPE_CHECKS: (() => SelfTestCheck)[] = [
  () =>
    check('envelope round trip (sizes 0 to 70,000)', () => {
      const { ctx, key1, keys } = envelopeFixture();
      for (const size of [0, 1, 252, 253, 1024, 70_000]) {
        const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 255);
        const header: EnvelopeHeader = { ...FIXTURE_UPDATE_HEADER, ctr: size + 1 };
        const opened = openEnvelope(sealEnvelope(key1, ctx, header, data), ctx, keys);
        if (!equalBytes(opened.payload, data)) return `payload of ${size} bytes differs`;
        if (opened.header.ctr !== size + 1) return 'header differs';
      }
      return null;
    }),
  () =>
    check('every flipped byte (header, nonce, ciphertext, tag) is rejected', () => {
      const { ctx, keys, sealed } = envelopeFixture();
      for (let i = 0; i < sealed.length; i++) {
        const bad = sealed.slice();
        bad[i] ^= i === 2 ? 0x03 : 0x01; // epoch 1 -> 2 (held) at byte 2; higher epoch bytes name epochs not held
        const why = refusal(bad, ctx, keys, i >= 3 && i <= 5);
        if (why !== null) return `byte ${i}: ${why}`;
      }
      return null;
    }),
  () =>
    check('transplant to another doc, workspace or kind is rejected', () => {
      const { ctx, keys, sealed } = envelopeFixture();
      const otherTag = docTag(nameKey(FIXTURE.rootKey, FIXTURE.workspaceId), 'workspace');
      const otherDoc = refusal(sealed, { ...ctx, docTag: otherTag }, () => docKey(FIXTURE.rootKey, FIXTURE.workspaceId, otherTag));
      if (otherDoc !== null) return `other doc (its own key): ${otherDoc}`;
      const sameKeyOtherDoc = refusal(sealed, { ...ctx, docTag: otherTag }, keys);
      if (sameKeyOtherDoc !== null) return `other doc (same key): ${sameKeyOtherDoc}`;
      const otherWs = refusal(sealed, { ...ctx, workspaceId: `${FIXTURE.workspaceId}-2` }, keys);
      if (otherWs !== null) return `other workspace: ${otherWs}`;
      const asSnapshot = encodeEnvelopeHeader({ ...FIXTURE_UPDATE_HEADER, kind: 'snapshot', ctr: 0, snapshot: { snapId: new Uint8Array(16), prevSnapId: new Uint8Array(16), coversSeq: 1 } });
      const moved = new Uint8Array(asSnapshot.length + sealed.length - 30);
      moved.set(asSnapshot);
      moved.set(sealed.subarray(30), asSnapshot.length);
      const otherKind = refusal(moved, ctx, keys);
      return otherKind === null ? null : `other kind: ${otherKind}`;
    }),
  () =>
    check('a length past the bucket or nonzero padding is rejected', () => {
      const { ctx, key1, keys } = envelopeFixture();
      const forge = (plaintext: Uint8Array): Uint8Array => {
        const head = encodeEnvelopeHeader(FIXTURE_UPDATE_HEADER);
        const nonce = randomNonce();
        const ct = xchacha20poly1305(key1, nonce, envelopeAad(ctx, head)).encrypt(plaintext);
        const out = new Uint8Array(head.length + NONCE_BYTES + ct.length);
        out.set(head);
        out.set(nonce, head.length);
        out.set(ct, head.length + NONCE_BYTES);
        return out;
      };
      const tooLong = new Uint8Array(256);
      new DataView(tooLong.buffer).setUint32(0, 253, true);
      const padded = new Uint8Array(256);
      new DataView(padded.buffer).setUint32(0, 10, true);
      padded[200] = 1;
      const fine = new Uint8Array(256);
      new DataView(fine.buffer).setUint32(0, 252, true);
      if (openEnvelope(forge(fine), ctx, keys).payload.length !== 252) return 'a full bucket did not open';
      return refusal(forge(tooLong), ctx, keys) ?? refusal(forge(padded), ctx, keys);
    }),
];

function nonceCheck(count: number): { check: SelfTestCheck; nonces: string } {
  const all = new Uint8Array(count * NONCE_BYTES);
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const nonce = randomNonce();
    all.set(nonce, i * NONCE_BYTES);
    seen.add(encodeBase64(nonce));
  }
  const pass = seen.size === count;
  return { check: { name: `${count} random nonces are distinct`, pass, detail: `${seen.size} distinct` }, nonces: encodeBase64(all) };
}

/** Runs `body` and records its time on each check it returns. */
function timed(now: () => number, body: () => SelfTestCheck[]): SelfTestCheck[] {
  const t0 = now();
  const checks = body();
  const ms = now() - t0;
  return checks.length === 1 ? [{ ...checks[0], ms }] : checks;
}

export function runSelfTest(options: SelfTestOptions = {}): SelfTestReport {
  const now = options.now ?? (() => Date.now());
  if (options.nonces !== undefined && (!Number.isInteger(options.nonces) || options.nonces < 1 || options.nonces > MAX_SELF_TEST_NONCES)) {
    throw new RangeError(`nonces ${options.nonces}: expected an integer from 1 to ${MAX_SELF_TEST_NONCES}`);
  }
  const checks: SelfTestCheck[] = [];
  for (const k of KNOWN_ANSWERS) checks.push(...timed(now, () => [knownAnswer(k)]));
  for (const c of ENVELOPE_CHECKS) checks.push(...timed(now, () => [c()]));
  let nonces: string | null = null;
  if (options.nonces !== undefined) {
    const r = nonceCheck(options.nonces);
    checks.push(r.check);
    nonces = r.nonces;
  }
  let kdf: SelfTestReport['kdf'] = null;
  if (options.kdf !== undefined) {
    const params = options.kdf === 'argon2id' ? ARGON2ID_DEFAULT : SCRYPT_DEFAULT;
    const t0 = now();
    checks.push(knownAnswer(KDF_KNOWN_ANSWERS[options.kdf]));
    kdf = { params, ms: now() - t0 };
  }
  return { passed: checks.every((c) => c.pass), checks, kdf, nonces };
}

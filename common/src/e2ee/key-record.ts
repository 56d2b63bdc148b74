/**
 * The key record of an encrypted workspace (stored by the server in
 * `workspaces.e2ee`, read and replaced through `/api/workspaces/{id}/keys`):
 *
 *   {"v":1,"gen":n,"epoch":e,"kdf":{"alg":"argon2id","m":KiB,"t":t,"p":1,"salt":b64}
 *    (or {"alg":"scrypt","log2n":n,"r":r,"p":p,"salt":b64}),
 *    "nonce":b64,"wrapped":b64,"ring":{"nonce":b64,"ct":b64}|null}
 *
 * - wrapped = XChaCha20-Poly1305(KEK, nonce, RK_e), AAD `diaryx-e2ee-v1 wrap`
 *   || str(workspace id) || u32 e || str(alg) || u32 (m or log2n) || u32 (t or
 *   r) || u32 p || str(salt bytes): the parameters cannot be swapped under it.
 * - ring.ct = XChaCha20-Poly1305(RK_e, ring.nonce, (u32 epoch || key) for each
 *   older epoch, ascending), AAD `diaryx-e2ee-v1 ring` || str(workspace id) ||
 *   u32 e; null while e = 1.
 * A passphrase change re-wraps RK_e only (new salt, new nonce): envelopes and
 * the ring stay byte-identical. `gen` is the generation the record replaces:
 * the server stores it only if it matches, then counts it up.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Base64Error, decodeBase64, encodeBase64 } from '../base64';
import { concatBytes, E2EE_LABEL, readU32, str, u32, utf8 } from './bytes';
import { NONCE_BYTES } from './envelope-header';
import { checkKdfParams, DEFAULT_KDF, defaultKdf, deriveKek, SALT_BYTES, type KdfAlgorithm, type KdfParams } from './kdf';
import { ROOT_KEY_BYTES } from './keys';

export type KdfRecord = KdfParams & { salt: string };

export interface KeyRecord {
  v: 1;
  gen: number;
  epoch: number;
  kdf: KdfRecord;
  nonce: string;
  wrapped: string;
  ring: { nonce: string; ct: string } | null;
}

/** The root keys of a workspace this device holds, by epoch; `epoch` is the current one. */
export interface WorkspaceKeys {
  workspaceId: string;
  epoch: number;
  rootKeys: Map<number, Uint8Array>;
}

export interface KdfOptions {
  /** An algorithm (its default parameters) or explicit parameters; default DEFAULT_KDF. */
  kdf?: KdfAlgorithm | KdfParams;
  onProgress?: (fraction: number) => void;
}

/** The record is not a key record of this format; the message says which field. */
export class KeyRecordError extends Error {
  override name = 'KeyRecordError';
  constructor(message: string) {
    super(`Invalid key record: ${message}`);
  }
}

/** The passphrase (or the workspace id) does not open the wrapped key. */
export class WrongPassphraseError extends Error {
  override name = 'WrongPassphraseError';
  constructor() {
    super('Wrong passphrase');
  }
}

const RING_ENTRY_BYTES = 4 + ROOT_KEY_BYTES;

function wrapAad(workspaceId: string, epoch: number, kdf: KdfParams, salt: Uint8Array): Uint8Array {
  const [a, b] = kdf.alg === 'argon2id' ? [kdf.m, kdf.t] : [kdf.log2n, kdf.r];
  return concatBytes([utf8(`${E2EE_LABEL} wrap`), str(workspaceId), u32(epoch), str(kdf.alg), u32(a), u32(b), u32(kdf.p), str(salt)]);
}

function ringAad(workspaceId: string, epoch: number): Uint8Array {
  return concatBytes([utf8(`${E2EE_LABEL} ring`), str(workspaceId), u32(epoch)]);
}

function kdfParamsOf(record: KdfRecord): KdfParams {
  return record.alg === 'argon2id' ? { alg: 'argon2id', m: record.m, t: record.t, p: record.p } : { alg: 'scrypt', log2n: record.log2n, r: record.r, p: record.p };
}

function resolveKdf(kdf: KdfOptions['kdf']): KdfParams {
  const params = kdf === undefined ? { ...DEFAULT_KDF } : typeof kdf === 'string' ? defaultKdf(kdf) : { ...kdf };
  checkKdfParams(params);
  return params;
}

/** Wraps RK_e under a fresh salt and nonce: the `kdf`, `nonce` and `wrapped` fields. */
function wrap(workspaceId: string, epoch: number, rootKey: Uint8Array, passphrase: string, options: KdfOptions): Pick<KeyRecord, 'kdf' | 'nonce' | 'wrapped'> {
  const params = resolveKdf(options.kdf);
  const salt = randomBytes(SALT_BYTES);
  const kek = deriveKek(passphrase, salt, params, options.onProgress);
  const nonce = randomBytes(NONCE_BYTES);
  const wrapped = xchacha20poly1305(kek, nonce, wrapAad(workspaceId, epoch, params, salt)).encrypt(rootKey);
  kek.fill(0);
  return { kdf: { ...params, salt: encodeBase64(salt) }, nonce: encodeBase64(nonce), wrapped: encodeBase64(wrapped) };
}

function sealRing(workspaceId: string, keys: Map<number, Uint8Array>, epoch: number): KeyRecord['ring'] {
  if (epoch === 1) return null;
  const entries: Uint8Array[] = [];
  for (let e = 1; e < epoch; e++) {
    const key = keys.get(e);
    if (!key) throw new RangeError(`the key of epoch ${e} is missing: the ring must hold every older epoch`);
    entries.push(u32(e), key);
  }
  const nonce = randomBytes(NONCE_BYTES);
  const ct = xchacha20poly1305(keys.get(epoch)!, nonce, ringAad(workspaceId, epoch)).encrypt(concatBytes(entries));
  return { nonce: encodeBase64(nonce), ct: encodeBase64(ct) };
}

/** A new record for epoch 1 with a random RK_1 (gen 0: the first PUT). */
export function createKeyRecord(workspaceId: string, passphrase: string, options: KdfOptions = {}): { record: KeyRecord; keys: WorkspaceKeys } {
  const rootKey = randomBytes(ROOT_KEY_BYTES);
  const record: KeyRecord = { v: 1, gen: 0, epoch: 1, ...wrap(workspaceId, 1, rootKey, passphrase, options), ring: null };
  return { record, keys: { workspaceId, epoch: 1, rootKeys: new Map([[1, rootKey]]) } };
}

/** Opens a record: every root key it holds. Throws WrongPassphraseError or KeyRecordError. */
export function unlockKeyRecord(workspaceId: string, value: unknown, passphrase: string, onProgress?: (fraction: number) => void): WorkspaceKeys {
  const record = parseKeyRecord(value);
  const params = kdfParamsOf(record.kdf);
  const salt = decodeBase64(record.kdf.salt);
  const kek = deriveKek(passphrase, salt, params, onProgress);
  let rootKey: Uint8Array;
  try {
    rootKey = xchacha20poly1305(kek, decodeBase64(record.nonce), wrapAad(workspaceId, record.epoch, params, salt)).decrypt(decodeBase64(record.wrapped));
  } catch {
    throw new WrongPassphraseError();
  } finally {
    kek.fill(0);
  }
  const rootKeys = new Map<number, Uint8Array>([[record.epoch, rootKey]]);
  if (record.ring) {
    let plain: Uint8Array;
    try {
      plain = xchacha20poly1305(rootKey, decodeBase64(record.ring.nonce), ringAad(workspaceId, record.epoch)).decrypt(decodeBase64(record.ring.ct));
    } catch {
      throw new KeyRecordError(`the ring does not open under the key of epoch ${record.epoch}`);
    }
    if (plain.length !== (record.epoch - 1) * RING_ENTRY_BYTES) throw new KeyRecordError(`the ring holds ${plain.length} bytes, expected ${record.epoch - 1} keys`);
    for (let i = 0; i < record.epoch - 1; i++) {
      const at = i * RING_ENTRY_BYTES;
      const epoch = readU32(plain, at);
      if (epoch !== i + 1) throw new KeyRecordError(`ring entry ${i} is epoch ${epoch}, expected ${i + 1}`);
      rootKeys.set(epoch, plain.slice(at + 4, at + RING_ENTRY_BYTES));
    }
  }
  return { workspaceId, epoch: record.epoch, rootKeys };
}

/**
 * The record after a passphrase change: RK_e wrapped again under a new salt
 * (and the given parameters); epoch, ring and every envelope stay as they are.
 * The result carries the `gen` it replaces.
 */
export function changePassphrase(record: KeyRecord, keys: WorkspaceKeys, passphrase: string, options: KdfOptions = {}): KeyRecord {
  const current = parseKeyRecord(record);
  const rootKey = keys.rootKeys.get(current.epoch);
  if (keys.epoch !== current.epoch || !rootKey) throw new RangeError(`the record is at epoch ${current.epoch}, the unlocked keys at ${keys.epoch}: unlock again first`);
  return { ...current, ...wrap(keys.workspaceId, current.epoch, rootKey, passphrase, options) };
}

/** A new epoch: a random RK_(e+1), every older key in the ring, wrapped under `passphrase`. */
export function rotateKey(record: KeyRecord, keys: WorkspaceKeys, passphrase: string, options: KdfOptions = {}): { record: KeyRecord; keys: WorkspaceKeys } {
  const current = parseKeyRecord(record);
  if (keys.epoch !== current.epoch) throw new RangeError(`the record is at epoch ${current.epoch}, the unlocked keys at ${keys.epoch}: unlock again first`);
  const epoch = current.epoch + 1;
  const rootKeys = new Map(keys.rootKeys);
  rootKeys.set(epoch, randomBytes(ROOT_KEY_BYTES));
  const next: KeyRecord = {
    v: 1,
    gen: current.gen,
    epoch,
    ...wrap(keys.workspaceId, epoch, rootKeys.get(epoch)!, passphrase, options),
    ring: sealRing(keys.workspaceId, rootKeys, epoch),
  };
  return { record: next, keys: { workspaceId: keys.workspaceId, epoch, rootKeys } };
}

// ---- validation ----------------------------------------------------------

function field<T>(obj: Record<string, unknown>, key: string, ok: (v: unknown) => v is T, what: string): T {
  const v = obj[key];
  if (!ok(v)) throw new KeyRecordError(`${key} must be ${what}`);
  return v;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function base64Field(obj: Record<string, unknown>, key: string, bytes: number | null): string {
  const text = field(obj, key, (v): v is string => typeof v === 'string', 'a base64 string');
  let decoded: Uint8Array;
  try {
    decoded = decodeBase64(text);
  } catch (e) {
    throw new KeyRecordError(`${key} is not base64 (${e instanceof Base64Error ? e.message : String(e)})`);
  }
  if (bytes !== null && decoded.length !== bytes) throw new KeyRecordError(`${key} has ${decoded.length} bytes, expected ${bytes}`);
  return text;
}

/** A checked copy of a key record (parsed JSON); throws KeyRecordError naming the field. */
export function parseKeyRecord(value: unknown): KeyRecord {
  if (!isObject(value)) throw new KeyRecordError('expected a JSON object');
  if (value.v !== 1) throw new KeyRecordError(`version ${JSON.stringify(value.v)}, expected 1`);
  const gen = field(value, 'gen', isCount, 'a non-negative integer');
  const epoch = field(value, 'epoch', (v): v is number => isCount(v) && v >= 1 && v <= 0xffffffff, 'an integer from 1 to 2^32-1');
  const kdfObj = field(value, 'kdf', isObject, 'an object');
  const alg = kdfObj.alg;
  let params: KdfParams;
  if (alg === 'argon2id') params = { alg, m: field(kdfObj, 'm', isCount, 'an integer'), t: field(kdfObj, 't', isCount, 'an integer'), p: field(kdfObj, 'p', isCount, 'an integer') };
  else if (alg === 'scrypt') params = { alg, log2n: field(kdfObj, 'log2n', isCount, 'an integer'), r: field(kdfObj, 'r', isCount, 'an integer'), p: field(kdfObj, 'p', isCount, 'an integer') };
  else throw new KeyRecordError(`kdf.alg ${JSON.stringify(alg)}, expected "argon2id" or "scrypt"`);
  try {
    checkKdfParams(params);
  } catch (e) {
    throw new KeyRecordError((e as Error).message);
  }
  const salt = base64Field(kdfObj, 'salt', SALT_BYTES);
  const nonce = base64Field(value, 'nonce', NONCE_BYTES);
  const wrapped = base64Field(value, 'wrapped', ROOT_KEY_BYTES + 16);
  let ring: KeyRecord['ring'] = null;
  if (value.ring !== null) {
    const r = field(value, 'ring', isObject, 'an object or null');
    ring = { nonce: base64Field(r, 'nonce', NONCE_BYTES), ct: base64Field(r, 'ct', (epoch - 1) * RING_ENTRY_BYTES + 16) };
  }
  if ((ring === null) !== (epoch === 1)) throw new KeyRecordError(epoch === 1 ? 'ring must be null at epoch 1' : `ring missing at epoch ${epoch}`);
  return { v: 1, gen, epoch, kdf: { ...params, salt }, nonce, wrapped, ring };
}

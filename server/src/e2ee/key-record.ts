/**
 * The key record of an encrypted workspace (common/src/e2ee/key-record.ts), checked for
 * shape and size only: the server cannot open it. A record is re-serialised
 * in one fixed key order, so what GET returns does not depend on the store.
 *
 *   {"v":1,"gen":n,"epoch":e,"kdf":{...},"nonce":b64,"wrapped":b64,"ring":{"nonce":b64,"ct":b64}|null}
 *   kdf: {"alg":"argon2id","m":KiB,"t":t,"p":1,"salt":b64} or {"alg":"scrypt","log2n":n,"r":r,"p":p,"salt":b64}
 */
import { ARGON2ID_DEFAULT, ARGON2ID_MAX, SCRYPT_DEFAULT, SCRYPT_MAX } from '../../../common/src/e2ee/kdf';
import { ValidationError } from '../errors';

export type KdfParams =
  | { alg: 'argon2id'; m: number; t: number; p: number; salt: string }
  | { alg: 'scrypt'; log2n: number; r: number; p: number; salt: string };

export interface KeyRecord {
  v: 1;
  gen: number;
  epoch: number;
  kdf: KdfParams;
  nonce: string;
  wrapped: string;
  ring: { nonce: string; ct: string } | null;
}

const SALT_BYTES = 16;
const NONCE_BYTES = 24;
/** A 32-byte root key sealed with a 16-byte tag. */
const WRAPPED_BYTES = 48;
/** Each older epoch: u32 epoch + 32-byte key, plus the tag; bounded by the body limit. */
const RING_ENTRY_BYTES = 36;
const MAX_RING_CT_BYTES = 32 * 1024;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fail(message: string): never {
  throw new ValidationError(`Invalid key record: ${message}`);
}

function object(value: unknown, field: string, keys: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${field} must be an object`);
  const o = value as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length > 0) fail(`${field} has unknown field ${JSON.stringify(extra[0])}`);
  for (const k of keys) if (!(k in o)) fail(`${field} lacks ${JSON.stringify(k)}`);
  return o;
}

function int(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(`${field} must be an integer from ${min} to ${max}`);
  return value;
}

function b64(value: unknown, field: string, length: (n: number) => boolean, what: string): string {
  if (typeof value !== 'string' || !B64.test(value)) fail(`${field} must be padded base64`);
  const n = Buffer.from(value, 'base64').length;
  if (!length(n)) fail(`${field} decodes to ${n} bytes, expected ${what}`);
  return value;
}

function kdf(value: unknown): KdfParams {
  const alg = (value as { alg?: unknown } | null)?.alg;
  const salt = (o: Record<string, unknown>) => b64(o.salt, 'kdf.salt', (n) => n === SALT_BYTES, `${SALT_BYTES}`);
  if (alg === 'argon2id') {
    const o = object(value, 'kdf', ['alg', 'm', 't', 'p', 'salt']);
    // The bounds are the devices' own (common/src/e2ee/kdf.ts): a record they would refuse to
    // open would lock every device out. The floor is the documented default.
    const [lo, hi] = [ARGON2ID_DEFAULT, ARGON2ID_MAX];
    return { alg, m: int(o.m, 'kdf.m', lo.m, hi.m), t: int(o.t, 'kdf.t', lo.t, hi.t), p: int(o.p, 'kdf.p', lo.p, hi.p), salt: salt(o) };
  }
  if (alg === 'scrypt') {
    const o = object(value, 'kdf', ['alg', 'log2n', 'r', 'p', 'salt']);
    const [lo, hi] = [SCRYPT_DEFAULT, SCRYPT_MAX];
    return { alg, log2n: int(o.log2n, 'kdf.log2n', lo.log2n, hi.log2n), r: int(o.r, 'kdf.r', lo.r, hi.r), p: int(o.p, 'kdf.p', lo.p, hi.p), salt: salt(o) };
  }
  fail('kdf.alg must be "argon2id" or "scrypt"');
}

/** Checks a parsed PUT body and returns it in canonical form; throws ValidationError naming the field. */
export function validateKeyRecord(value: unknown): KeyRecord {
  const o = object(value, 'the record', ['v', 'gen', 'epoch', 'kdf', 'nonce', 'wrapped', 'ring']);
  if (o.v !== 1) fail('v must be 1');
  const epoch = int(o.epoch, 'epoch', 1, 0xffffffff);
  let ring: KeyRecord['ring'] = null;
  if (o.ring !== null) {
    const r = object(o.ring, 'ring', ['nonce', 'ct']);
    ring = {
      nonce: b64(r.nonce, 'ring.nonce', (n) => n === NONCE_BYTES, `${NONCE_BYTES}`),
      // Exactly the keys of epochs 1..epoch-1, as devices require.
      ct: b64(r.ct, 'ring.ct', (n) => n === (epoch - 1) * RING_ENTRY_BYTES + 16 && n <= MAX_RING_CT_BYTES, `(epoch - 1) x ${RING_ENTRY_BYTES} + 16`),
    };
  }
  if ((epoch === 1) !== (ring === null)) fail('ring is null exactly while epoch is 1');
  return {
    v: 1,
    gen: int(o.gen, 'gen', 0, Number.MAX_SAFE_INTEGER - 1),
    epoch,
    kdf: kdf(o.kdf),
    nonce: b64(o.nonce, 'nonce', (n) => n === NONCE_BYTES, `${NONCE_BYTES}`),
    wrapped: b64(o.wrapped, 'wrapped', (n) => n === WRAPPED_BYTES, `${WRAPPED_BYTES}`),
    ring,
  };
}

/** Canonical JSON text of a record with its generation set. */
export function serializeKeyRecord(record: KeyRecord, gen: number): string {
  const { v, epoch, kdf: k, nonce, wrapped, ring } = record;
  const kdfOut = k.alg === 'argon2id' ? { alg: k.alg, m: k.m, t: k.t, p: k.p, salt: k.salt } : { alg: k.alg, log2n: k.log2n, r: k.r, p: k.p, salt: k.salt };
  return JSON.stringify({ v, gen, epoch, kdf: kdfOut, nonce, wrapped, ring: ring ? { nonce: ring.nonce, ct: ring.ct } : null });
}

/** A stored record in canonical form (Postgres jsonb comes back in its own key order). */
export function canonicalStoredRecord(text: string): string {
  const r = validateKeyRecord(JSON.parse(text));
  return serializeKeyRecord(r, r.gen);
}

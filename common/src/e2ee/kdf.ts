/**
 * The passphrase KDF: KEK = KDF(passphrase as NFC UTF-8, 16-byte salt) -> 32
 * bytes, argon2id or scrypt as the key record's `kdf.alg` says. The defaults
 * are also the floor: a record asking for less is refused, and one asking for
 * far more (which would exhaust a device's memory) too.
 */
import { argon2id } from '@noble/hashes/argon2.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { utf8 } from './bytes';

export const KEK_BYTES = 32;
export const SALT_BYTES = 16;

export interface Argon2idParams {
  alg: 'argon2id';
  /** Memory in KiB. */
  m: number;
  t: number;
  p: number;
}

export interface ScryptParams {
  alg: 'scrypt';
  log2n: number;
  r: number;
  p: number;
}

export type KdfParams = Argon2idParams | ScryptParams;
export type KdfAlgorithm = KdfParams['alg'];

export const ARGON2ID_DEFAULT: Argon2idParams = { alg: 'argon2id', m: 19456, t: 2, p: 1 };
export const SCRYPT_DEFAULT: ScryptParams = { alg: 'scrypt', log2n: 15, r: 8, p: 1 };
/** The algorithm new key records use (README, "End-to-end encryption"). */
export const DEFAULT_KDF: KdfParams = ARGON2ID_DEFAULT;

/** Upper bounds: about 256 MiB of memory and a few minutes of work in the plugin. */
export const ARGON2ID_MAX = { m: 262144, t: 16, p: 1 };
export const SCRYPT_MAX = { log2n: 18, r: 32, p: 4 };

export function defaultKdf(alg: KdfAlgorithm): KdfParams {
  return alg === 'argon2id' ? { ...ARGON2ID_DEFAULT } : { ...SCRYPT_DEFAULT };
}

function inRange(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** Throws a RangeError naming the parameter when `params` is below the floor or above the bounds. */
export function checkKdfParams(params: KdfParams): void {
  const fail = (field: string, value: number, min: number, max: number): never => {
    throw new RangeError(`${params.alg} parameter ${field} = ${value}: expected an integer from ${min} to ${max}`);
  };
  if (params.alg === 'argon2id') {
    if (!inRange(params.m, ARGON2ID_DEFAULT.m, ARGON2ID_MAX.m)) fail('m', params.m, ARGON2ID_DEFAULT.m, ARGON2ID_MAX.m);
    if (!inRange(params.t, ARGON2ID_DEFAULT.t, ARGON2ID_MAX.t)) fail('t', params.t, ARGON2ID_DEFAULT.t, ARGON2ID_MAX.t);
    if (!inRange(params.p, 1, ARGON2ID_MAX.p)) fail('p', params.p, 1, ARGON2ID_MAX.p);
  } else if (params.alg === 'scrypt') {
    if (!inRange(params.log2n, SCRYPT_DEFAULT.log2n, SCRYPT_MAX.log2n)) fail('log2n', params.log2n, SCRYPT_DEFAULT.log2n, SCRYPT_MAX.log2n);
    if (!inRange(params.r, SCRYPT_DEFAULT.r, SCRYPT_MAX.r)) fail('r', params.r, SCRYPT_DEFAULT.r, SCRYPT_MAX.r);
    if (!inRange(params.p, 1, SCRYPT_MAX.p)) fail('p', params.p, 1, SCRYPT_MAX.p);
  } else {
    throw new RangeError(`unknown KDF algorithm ${(params as { alg: unknown }).alg}`);
  }
}

/** The passphrase's bytes: NFC, so the same words typed on two systems give one key. */
export function passphraseBytes(passphrase: string): Uint8Array {
  if (passphrase.length === 0) throw new RangeError('Passphrase is empty');
  return utf8(passphrase.normalize('NFC'));
}

/**
 * Runs the KDF (checked parameters only); `onProgress` gets a fraction 0..1
 * now and then, for a progress event during the seconds it takes in the plugin.
 */
export function deriveKek(passphrase: string, salt: Uint8Array, params: KdfParams, onProgress?: (fraction: number) => void): Uint8Array {
  checkKdfParams(params);
  if (salt.length !== SALT_BYTES) throw new RangeError(`KDF salt has ${salt.length} bytes, expected ${SALT_BYTES}`);
  const password = passphraseBytes(passphrase);
  if (params.alg === 'argon2id') {
    return argon2id(password, salt, { m: params.m, t: params.t, p: params.p, dkLen: KEK_BYTES, maxmem: (params.m + 64) * 1024, onProgress });
  }
  const N = 2 ** params.log2n;
  return scrypt(password, salt, { N, r: params.r, p: params.p, dkLen: KEK_BYTES, maxmem: 128 * N * params.r * params.p + 1024 * 1024, onProgress });
}

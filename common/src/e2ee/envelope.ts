/**
 * Sealing and opening envelopes (one Yjs update or doc snapshot) with
 * XChaCha20-Poly1305 under K_doc(epoch, doc tag). The layout is
 * envelope-header.ts; this adds the cryptography:
 * - AAD = `diaryx-e2ee-v1` || str(workspace id) || str(doc tag) || header
 *   bytes (not the nonce), so an envelope moved to another doc, workspace or
 *   kind, or with any header byte changed, fails to open;
 * - plaintext = u32 L || payload || zeros up to the padding bucket P, so the
 *   server learns only the bucket.
 * Every failure to open is `Envelope rejected: <doc tag>` (the reason is kept
 * apart), and nothing of a rejected envelope is returned.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concatBytes, E2EE_LABEL, readU32, str, utf8 } from './bytes';
import {
  encodeEnvelopeHeader,
  EnvelopeFormatError,
  MAX_PADDED_BYTES,
  NONCE_BYTES,
  paddedLength,
  parseEnvelope,
  TAG_BYTES,
  type EnvelopeHeader,
  type ParsedEnvelope,
} from './envelope-header';

/** Where an envelope belongs: both are bound into its associated data. */
export interface EnvelopeContext {
  workspaceId: string;
  docTag: string;
}

export interface OpenedEnvelope {
  header: EnvelopeHeader;
  payload: Uint8Array;
}

/** An envelope that did not open; `reason` says why (for logs, never shown as the error). */
export class EnvelopeRejectedError extends Error {
  override name = 'EnvelopeRejectedError';
  constructor(
    readonly docTag: string,
    readonly reason: string,
  ) {
    super(`Envelope rejected: ${docTag}`);
  }
}

/** The envelope was sealed under an epoch whose root key this device does not hold. */
export class MissingKeyError extends Error {
  override name = 'MissingKeyError';
  constructor(readonly epoch: number) {
    super(`Missing key for epoch ${epoch}`);
  }
}

const LENGTH_BYTES = 4;

export function envelopeAad(ctx: EnvelopeContext, headerBytes: Uint8Array): Uint8Array {
  return concatBytes([utf8(E2EE_LABEL), str(ctx.workspaceId), str(ctx.docTag), headerBytes]);
}

/** A fresh random nonce; the only randomness an envelope takes. */
export function randomNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

/**
 * Seals `payload` under `key` (K_doc of the header's epoch and the context's
 * doc tag). `nonce` is for known-answer tests only: a reused nonce under one
 * key breaks the cipher.
 */
export function sealEnvelope(key: Uint8Array, ctx: EnvelopeContext, header: EnvelopeHeader, payload: Uint8Array, nonce: Uint8Array = randomNonce()): Uint8Array {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`nonce has ${nonce.length} bytes, expected ${NONCE_BYTES}`);
  const headerBytes = encodeEnvelopeHeader(header);
  const padded = paddedLength(payload.length);
  if (padded > MAX_PADDED_BYTES) throw new RangeError(`payload of ${payload.length} bytes exceeds the largest envelope (${MAX_PADDED_BYTES} bytes padded)`);
  const plaintext = new Uint8Array(padded);
  new DataView(plaintext.buffer).setUint32(0, payload.length, true);
  plaintext.set(payload, LENGTH_BYTES);
  const h = headerBytes.length;
  const out = new Uint8Array(h + NONCE_BYTES + padded + TAG_BYTES);
  out.set(headerBytes, 0);
  out.set(nonce, h);
  // Encrypt straight into the envelope: a 1 MiB snapshot is not copied again.
  xchacha20poly1305(key, nonce, envelopeAad(ctx, headerBytes)).encrypt(plaintext, out.subarray(h + NONCE_BYTES));
  return out;
}

/**
 * Opens an envelope. `keyForEpoch` answers K_doc(epoch, ctx.docTag), or
 * undefined when this device lacks that epoch (MissingKeyError). Throws
 * EnvelopeRejectedError for a malformed layout, a failed tag, a length past
 * the padding or nonzero padding.
 */
export function openEnvelope(bytes: Uint8Array, ctx: EnvelopeContext, keyForEpoch: (epoch: number) => Uint8Array | undefined): OpenedEnvelope {
  let parsed: ParsedEnvelope;
  try {
    parsed = parseEnvelope(bytes);
  } catch (e) {
    if (e instanceof EnvelopeFormatError) throw new EnvelopeRejectedError(ctx.docTag, e.message);
    throw e;
  }
  const key = keyForEpoch(parsed.header.epoch);
  if (key === undefined) throw new MissingKeyError(parsed.header.epoch);
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(key, parsed.nonce, envelopeAad(ctx, parsed.headerBytes)).decrypt(parsed.sealed);
  } catch {
    throw new EnvelopeRejectedError(ctx.docTag, 'authentication failed');
  }
  const length = readU32(plaintext, 0);
  if (length > plaintext.length - LENGTH_BYTES) throw new EnvelopeRejectedError(ctx.docTag, `length ${length} beyond the ${plaintext.length}-byte bucket`);
  for (let i = LENGTH_BYTES + length; i < plaintext.length; i++) {
    if (plaintext[i] !== 0) throw new EnvelopeRejectedError(ctx.docTag, `nonzero padding at byte ${i}`);
  }
  return { header: parsed.header, payload: plaintext.slice(LENGTH_BYTES, LENGTH_BYTES + length) };
}

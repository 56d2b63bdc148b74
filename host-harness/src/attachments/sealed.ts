/**
 * Attachments of an end-to-end encrypted workspace, on the host: the plugin
 * hands over the attachment keys K_att(e) (`GetAttachmentKeys`), and the host
 * seals and opens DXA1 blobs with the shared code (common/src/e2ee/attachment-blob.ts),
 * natively fast where the plugin's interpreter would take about a second per MiB.
 * The server sees a blob's address and padded size only.
 */
import { createHash } from 'node:crypto';
import { AttachmentRejectedError, decryptAttachment, encryptAttachment } from '../../../common/src/e2ee/attachment-blob';
import { notEncryptedMessage, parseAttachmentKeys, type AttachmentKeys } from '../../../common/src/e2ee/attachment-keys';
import type { EncryptedBlobRef } from '../../../common/src/workspace/metadata';
import type { CommandResponse } from '../host-types';

/** How a workspace's attachments travel: as they are, or sealed under these keys. */
export type AttachmentMode = { kind: 'plain' } | { kind: 'sealed'; keys: AttachmentKeys };

/**
 * Asks the plugin. Only its exact "not end-to-end encrypted" refusal means
 * plain: any other refusal (locked, unreadable keys, an older plugin) throws,
 * so a file's bytes are never sent where they should have been sealed.
 */
export async function attachmentMode(command: (name: string, params: unknown) => Promise<CommandResponse>, workspaceId: string): Promise<AttachmentMode> {
  const res = await command('GetAttachmentKeys', {});
  if (!res.success) {
    if (res.error === notEncryptedMessage(workspaceId)) return { kind: 'plain' };
    throw new Error(`attachments wait: ${res.error ?? 'GetAttachmentKeys gave no answer'}`);
  }
  const keys = parseAttachmentKeys(res.data);
  if (keys.workspaceId !== workspaceId) throw new Error(`the plugin holds the keys of workspace ${keys.workspaceId}, not of ${workspaceId}`);
  return { kind: 'sealed', keys };
}

/** A file sealed for upload: the blob, its reference, and the file's own hash and size (kept in the BinaryRef). */
export interface SealedFile {
  blob: Uint8Array;
  ref: EncryptedBlobRef;
  hash: string;
  size: number;
}

/** Seals `bytes` (the file `label`) under the current epoch's K_att. */
export function sealFile(keys: AttachmentKeys, bytes: Uint8Array, label: string): SealedFile {
  const key = keys.keys.get(keys.epoch)!;
  let sealed: ReturnType<typeof encryptAttachment>;
  try {
    sealed = encryptAttachment(key, keys.epoch, bytes);
  } catch (e) {
    if (e instanceof RangeError) throw new Error(`${label}: cannot be encrypted: ${e.message}`);
    throw e;
  }
  return { blob: sealed.blob, ref: sealed.ref, hash: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

/**
 * Opens a fetched blob of the file `label`: address, every chunk, framing,
 * FK, and then the file's hash as the workspace names it. Throws an Error
 * naming `label`; nothing is written here.
 */
export function openSealedBlob(keys: AttachmentKeys, ref: EncryptedBlobRef, blob: Uint8Array, expectedHash: string, label: string): Uint8Array {
  const key = keys.keys.get(ref.epoch);
  if (!key) throw new Error(`${label}: Missing key for epoch ${ref.epoch}`);
  let file: Uint8Array;
  try {
    file = decryptAttachment(key, ref, blob);
  } catch (e) {
    if (e instanceof AttachmentRejectedError) throw new Error(`${label}: ${e.message}`);
    throw e;
  }
  const hash = createHash('sha256').update(file).digest('hex');
  if (expectedHash !== '' && hash !== expectedHash) throw new Error(`${label}: the decrypted file hashes to ${hash}, the workspace names ${expectedHash}`);
  return file;
}

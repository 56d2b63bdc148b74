/**
 * Keys derived from a workspace root key RK_e (32 random bytes per epoch) by
 * HKDF-SHA256, salt = the UTF-8 workspace id, and the doc tags the server sees
 * instead of doc names:
 * - K_name = HKDF(RK_1, `diaryx-e2ee-v1 name`), always from epoch 1, so a doc
 *   keeps its tag across key rotations;
 * - K_doc(e, tag) = HKDF(RK_e, `diaryx-e2ee-v1 doc ` || tag);
 * - K_att(e) = HKDF(RK_e, `diaryx-e2ee-v1 attachment`);
 * - doc tag = base64url (no padding) of the first 16 bytes of
 *   HMAC-SHA256(K_name, doc name): 22 characters.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64Url, E2EE_LABEL, utf8 } from './bytes';

export const ROOT_KEY_BYTES = 32;
const DERIVED_KEY_BYTES = 32;
/** A frame doc id is at most this many bytes (v2 framing). */
export const MAX_FRAME_DOC_ID_BYTES = 227;

/** Doc name of the workspace doc. */
export const WORKSPACE_DOC_NAME = 'workspace';

/** Doc name of a body doc: `body/<key>`, key as in `body:<ws>/<key>`. */
export function bodyDocName(key: string): string {
  if (key.length === 0) throw new RangeError('body doc key is empty');
  return `body/${key}`;
}

function checkRootKey(rk: Uint8Array, what: string): void {
  if (rk.length !== ROOT_KEY_BYTES) throw new RangeError(`${what}: root key has ${rk.length} bytes, expected ${ROOT_KEY_BYTES}`);
}

function checkWorkspaceId(workspaceId: string): void {
  if (workspaceId.length === 0) throw new RangeError('workspace id is empty');
}

function derive(rk: Uint8Array, workspaceId: string, info: string): Uint8Array {
  checkRootKey(rk, info);
  checkWorkspaceId(workspaceId);
  return hkdf(sha256, rk, utf8(workspaceId), utf8(info), DERIVED_KEY_BYTES);
}

/** K_name: takes RK_1, the root key of epoch 1, whatever the current epoch. */
export function nameKey(rootKeyEpoch1: Uint8Array, workspaceId: string): Uint8Array {
  return derive(rootKeyEpoch1, workspaceId, `${E2EE_LABEL} name`);
}

/** K_doc(e, tag): seals the envelopes of one doc in one epoch. */
export function docKey(rootKey: Uint8Array, workspaceId: string, docTag: string): Uint8Array {
  if (!isDocTag(docTag)) throw new RangeError(`not a doc tag: ${docTag}`);
  return derive(rootKey, workspaceId, `${E2EE_LABEL} doc ${docTag}`);
}

/** K_att(e): keys the attachment file keys of one epoch. */
export function attachmentKey(rootKey: Uint8Array, workspaceId: string): Uint8Array {
  return derive(rootKey, workspaceId, `${E2EE_LABEL} attachment`);
}

/** The opaque tag of a doc name (`workspace` or `body/<key>`). */
export function docTag(nameKeyBytes: Uint8Array, docName: string): string {
  if (nameKeyBytes.length !== DERIVED_KEY_BYTES) throw new RangeError(`name key has ${nameKeyBytes.length} bytes`);
  if (docName.length === 0) throw new RangeError('doc name is empty');
  return base64Url(hmac(sha256, nameKeyBytes, utf8(docName)).slice(0, 16));
}

export function isDocTag(tag: string): boolean {
  return /^[A-Za-z0-9_-]{21}[AQgw]$/.test(tag);
}

/** `e2e:<workspace id>/<doc tag>`, or `e2e:<workspace id>` for whole-workspace messages. */
export function frameDocId(workspaceId: string, tag?: string): string {
  checkWorkspaceId(workspaceId);
  if (tag !== undefined && !isDocTag(tag)) throw new RangeError(`not a doc tag: ${tag}`);
  const id = tag === undefined ? `e2e:${workspaceId}` : `e2e:${workspaceId}/${tag}`;
  const bytes = utf8(id).length;
  if (bytes > MAX_FRAME_DOC_ID_BYTES) throw new RangeError(`frame doc id of ${bytes} bytes, at most ${MAX_FRAME_DOC_ID_BYTES}`);
  return id;
}

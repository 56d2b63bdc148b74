/**
 * v2 binary WebSocket frames and document ids.
 *
 *   u8 doc_id_len | doc_id (UTF-8, at most 255 bytes) | y-sync payload
 *
 * Doc ids are `workspace:<workspace id>` for the workspace metadata doc and
 * `body:<workspace id>/<file key>` for one file body. Unlike the original,
 * which truncates a longer id to 255 bytes (so distinct long paths collide),
 * `encodeFrame` refuses an id that does not fit.
 */
import { encodeUtf8, tryDecodeUtf8 } from './utf8';

/** Longest doc id a frame can carry, in UTF-8 bytes. */
export const MAX_DOC_ID_BYTES = 255;

const WORKSPACE_PREFIX = 'workspace:';
const BODY_PREFIX = 'body:';

/** A doc id whose UTF-8 form is longer than 255 bytes. */
export class DocIdTooLongError extends Error {
  override name = 'DocIdTooLongError';
  constructor(
    readonly docId: string,
    readonly byteLength: number,
  ) {
    super(`Document id longer than ${MAX_DOC_ID_BYTES} bytes (${byteLength} bytes): ${docId}`);
  }
}

/** A binary frame that cannot be split into doc id and payload. */
export class FrameError extends Error {
  override name = 'FrameError';
}

/** UTF-8 length of a doc id. */
export function docIdByteLength(docId: string): number {
  return encodeUtf8(docId).length;
}

/** Frames a y-sync payload with its doc id; throws DocIdTooLongError past 255 bytes. */
export function encodeFrame(docId: string, payload: Uint8Array): Uint8Array {
  const id = encodeUtf8(docId);
  if (id.length > MAX_DOC_ID_BYTES) throw new DocIdTooLongError(docId, id.length);
  const out = new Uint8Array(1 + id.length + payload.length);
  out[0] = id.length;
  out.set(id, 1);
  out.set(payload, 1 + id.length);
  return out;
}

/** Splits a frame. The payload is a view into `bytes`, not a copy. */
export function decodeFrame(bytes: Uint8Array): { docId: string; payload: Uint8Array } {
  if (bytes.length === 0) throw new FrameError('Empty frame: no doc id length');
  const len = bytes[0];
  if (bytes.length < 1 + len) {
    throw new FrameError(`Frame too short: doc id length ${len} but only ${bytes.length - 1} bytes follow`);
  }
  const r = tryDecodeUtf8(bytes.subarray(1, 1 + len));
  if (!r.ok) throw new FrameError(`Doc id is not valid UTF-8: ${r.error}`);
  return { docId: r.text, payload: bytes.subarray(1 + len) };
}

/** `workspace:<ws>` */
export function workspaceDocId(workspaceId: string): string {
  return `${WORKSPACE_PREFIX}${workspaceId}`;
}

/** `body:<ws>/<key>` */
export function bodyDocId(workspaceId: string, key: string): string {
  return `${BODY_PREFIX}${workspaceId}/${key}`;
}

export type ParsedDocId =
  | { kind: 'workspace'; workspaceId: string }
  | { kind: 'body'; workspaceId: string; key: string };

/**
 * Parses a doc id. A body id is split at the first `/` after `body:`; a body
 * id without `/`, or an id with neither prefix, gives null.
 */
export function parseDocId(id: string): ParsedDocId | null {
  if (id.startsWith(WORKSPACE_PREFIX)) {
    return { kind: 'workspace', workspaceId: id.slice(WORKSPACE_PREFIX.length) };
  }
  if (id.startsWith(BODY_PREFIX)) {
    const rest = id.slice(BODY_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return null;
    return { kind: 'body', workspaceId: rest.slice(0, slash), key: rest.slice(slash + 1) };
  }
  return null;
}

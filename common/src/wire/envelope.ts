/**
 * The binary action envelope returned by the guest's hot-path exports
 * (`handle_binary_message`, `handle_text_message`, `on_connected`, ...):
 *
 *   u16 LE count, then per action: u8 type, u32 LE payload length, payload.
 *
 * Types: 0 SendBinary (raw WebSocket frame), 1 SendText (UTF-8 text),
 * 2 EmitEvent (UTF-8 JSON of the SyncEvent), 3 DownloadSnapshot (UTF-8
 * workspace id). The decoder is the host-side helper; its error messages are
 * the original's, word for word. Bytes after the last action are ignored.
 */
import { serializeSyncEvent, type SyncEvent } from './events';
import { encodeUtf8, tryDecodeUtf8 } from './utf8';

export const ACTION_SEND_BINARY = 0;
export const ACTION_SEND_TEXT = 1;
export const ACTION_EMIT_EVENT = 2;
export const ACTION_DOWNLOAD_SNAPSHOT = 3;

/** Largest number of actions one envelope can carry (u16 count). */
export const MAX_ENVELOPE_ACTIONS = 0xffff;

/** An action a sync session asks its host to perform, in order. */
export type SessionAction =
  | { type: 'SendBinary'; data: Uint8Array }
  | { type: 'SendText'; text: string }
  | { type: 'EmitEvent'; event: SyncEvent }
  | { type: 'DownloadSnapshot'; workspaceId: string };

/** A decoded action; an event stays as its raw JSON text. */
export type DecodedAction =
  | { type: 'SendBinary'; data: Uint8Array }
  | { type: 'SendText'; text: string }
  | { type: 'EmitEvent'; json: string }
  | { type: 'DownloadSnapshot'; workspaceId: string };

/** A malformed envelope, or one too large to encode. */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

function actionTypeAndPayload(action: SessionAction): [number, Uint8Array] {
  switch (action.type) {
    case 'SendBinary':
      return [ACTION_SEND_BINARY, action.data];
    case 'SendText':
      return [ACTION_SEND_TEXT, encodeUtf8(action.text)];
    case 'EmitEvent':
      return [ACTION_EMIT_EVENT, encodeUtf8(serializeSyncEvent(action.event))];
    case 'DownloadSnapshot':
      return [ACTION_DOWNLOAD_SNAPSHOT, encodeUtf8(action.workspaceId)];
  }
}

/**
 * Encodes actions into an envelope. Throws EnvelopeError for more than 65535
 * actions, where the original would silently wrap the u16 count and produce a
 * corrupt envelope.
 */
export function encodeEnvelope(actions: readonly SessionAction[]): Uint8Array {
  if (actions.length > MAX_ENVELOPE_ACTIONS) {
    throw new EnvelopeError(`Too many actions for one envelope: ${actions.length} (at most ${MAX_ENVELOPE_ACTIONS})`);
  }
  const parts = actions.map(actionTypeAndPayload);
  let size = 2;
  for (const [, payload] of parts) size += 5 + payload.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, actions.length, true);
  let offset = 2;
  for (const [type, payload] of parts) {
    out[offset] = type;
    view.setUint32(offset + 1, payload.length, true);
    out.set(payload, offset + 5);
    offset += 5 + payload.length;
  }
  return out;
}

function decodeText(payload: Uint8Array, what: string): string {
  const r = tryDecodeUtf8(payload);
  if (!r.ok) throw new EnvelopeError(`Invalid UTF-8 in ${what}: ${r.error}`);
  return r.text;
}

/** Decodes an envelope; throws EnvelopeError with the original's messages. */
export function decodeEnvelope(bytes: Uint8Array): DecodedAction[] {
  if (bytes.length < 2) throw new EnvelopeError('Buffer too short for action count');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint16(0, true);
  const actions: DecodedAction[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset >= bytes.length) throw new EnvelopeError('Unexpected end of buffer');
    const type = bytes[offset];
    offset += 1;
    if (offset + 4 > bytes.length) throw new EnvelopeError('Unexpected end of buffer reading payload length');
    const len = view.getUint32(offset, true);
    offset += 4;
    if (len > bytes.length - offset) throw new EnvelopeError('Payload exceeds buffer');
    const payload = bytes.slice(offset, offset + len);
    offset += len;
    switch (type) {
      case ACTION_SEND_BINARY:
        actions.push({ type: 'SendBinary', data: payload });
        break;
      case ACTION_SEND_TEXT:
        actions.push({ type: 'SendText', text: decodeText(payload, 'SendText') });
        break;
      case ACTION_EMIT_EVENT:
        actions.push({ type: 'EmitEvent', json: decodeText(payload, 'EmitEvent') });
        break;
      case ACTION_DOWNLOAD_SNAPSHOT:
        actions.push({ type: 'DownloadSnapshot', workspaceId: decodeText(payload, 'DownloadSnapshot') });
        break;
      default:
        throw new EnvelopeError(`Unknown action type: ${type}`);
    }
  }
  return actions;
}

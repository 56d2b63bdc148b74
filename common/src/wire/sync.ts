/**
 * y-sync messages (the y-protocols encoding) carried inside v2 frames.
 *
 *   sync:      varUint 0, varUint subtype, varUint8Array data
 *              subtype 0 SyncStep1 (state vector), 1 SyncStep2 (update v1), 2 Update (update v1)
 *   awareness: varUint 1, varUint8Array awareness update
 *   auth:      varUint 2, varUint permission type, and for type 0 (denied) a varString reason
 *
 * varUint is LEB128: 7 bits per byte, least significant group first, high
 * bit set on every byte but the last. One payload may hold several messages
 * back to back; replies to them are concatenated in the same order.
 */
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { concatBytes } from '../bytes';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const SYNC_STEP1: number = syncProtocol.messageYjsSyncStep1;
export const SYNC_STEP2: number = syncProtocol.messageYjsSyncStep2;
export const SYNC_UPDATE: number = syncProtocol.messageYjsUpdate;
/** Auth permission type that is followed by a reason string. */
export const AUTH_PERMISSION_DENIED = 0;

export type SyncMessage =
  | { kind: 'step1'; stateVector: Uint8Array }
  | { kind: 'step2'; update: Uint8Array }
  | { kind: 'update'; update: Uint8Array }
  | { kind: 'awareness'; data: Uint8Array }
  | { kind: 'auth'; data: Uint8Array };

/** A payload that is not a well-formed sequence of y-sync messages, or that Yjs rejected. */
export class SyncMessageError extends Error {
  override name = 'SyncMessageError';
}

function encodeSyncSub(subtype: number, data: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_SYNC);
  encoding.writeVarUint(enc, subtype);
  encoding.writeVarUint8Array(enc, data);
  return encoding.toUint8Array(enc);
}

/** `[0, 0, len, stateVector]` */
export function encodeSyncStep1(stateVector: Uint8Array): Uint8Array {
  return encodeSyncSub(SYNC_STEP1, stateVector);
}

/** `[0, 1, len, update]` */
export function encodeSyncStep2(update: Uint8Array): Uint8Array {
  return encodeSyncSub(SYNC_STEP2, update);
}

/** `[0, 2, len, update]` */
export function encodeSyncUpdate(update: Uint8Array): Uint8Array {
  return encodeSyncSub(SYNC_UPDATE, update);
}

/** Encodes any message; an auth message's `data` is written verbatim after its type. */
export function encodeSyncMessage(msg: SyncMessage): Uint8Array {
  switch (msg.kind) {
    case 'step1':
      return encodeSyncStep1(msg.stateVector);
    case 'step2':
      return encodeSyncStep2(msg.update);
    case 'update':
      return encodeSyncUpdate(msg.update);
    case 'awareness': {
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, MESSAGE_AWARENESS);
      encoding.writeVarUint8Array(enc, msg.data);
      return encoding.toUint8Array(enc);
    }
    case 'auth': {
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, MESSAGE_AUTH);
      encoding.writeUint8Array(enc, msg.data);
      return encoding.toUint8Array(enc);
    }
  }
}

/** Concatenation of several messages in one payload. */
export function encodeSyncMessages(msgs: readonly SyncMessage[]): Uint8Array {
  return concatBytes(msgs.map(encodeSyncMessage));
}

export { concatBytes };

/** Bounds-checked reader: every failure is a SyncMessageError naming the offset. */
class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  varUint(what: string): number {
    const start = this.pos;
    let num = 0;
    let mult = 1;
    for (;;) {
      if (this.pos >= this.bytes.length) {
        throw new SyncMessageError(`Truncated ${what} at offset ${start}`);
      }
      const b = this.bytes[this.pos++];
      num += (b & 0x7f) * mult;
      if (num > Number.MAX_SAFE_INTEGER) throw new SyncMessageError(`${what} at offset ${start} is too large`);
      if (b < 0x80) return num;
      mult *= 128;
      if (mult > 2 ** 56) throw new SyncMessageError(`${what} at offset ${start} is too large`);
    }
  }

  bytesOf(len: number, what: string): Uint8Array {
    if (len > this.bytes.length - this.pos) {
      throw new SyncMessageError(
        `Truncated ${what} at offset ${this.pos}: length ${len} but ${this.bytes.length - this.pos} bytes left`,
      );
    }
    const out = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  varBytes(what: string): Uint8Array {
    const len = this.varUint(`${what} length`);
    return this.bytesOf(len, what);
  }
}

/**
 * Decodes every message of a payload. Byte arrays in the result are views
 * into `payload`. Throws SyncMessageError on an unknown message type, an
 * unknown sync subtype (`Unknown sync type: <n>`) or truncated input.
 */
export function decodeSyncMessages(payload: Uint8Array): SyncMessage[] {
  const r = new Reader(payload);
  const out: SyncMessage[] = [];
  while (!r.done) {
    const type = r.varUint('message type');
    if (type === MESSAGE_SYNC) {
      const subtype = r.varUint('sync type');
      if (subtype === SYNC_STEP1) out.push({ kind: 'step1', stateVector: r.varBytes('state vector') });
      else if (subtype === SYNC_STEP2) out.push({ kind: 'step2', update: r.varBytes('update') });
      else if (subtype === SYNC_UPDATE) out.push({ kind: 'update', update: r.varBytes('update') });
      else throw new SyncMessageError(`Unknown sync type: ${subtype}`);
    } else if (type === MESSAGE_AWARENESS) {
      out.push({ kind: 'awareness', data: r.varBytes('awareness update') });
    } else if (type === MESSAGE_AUTH) {
      const start = r.pos;
      const permission = r.varUint('auth permission type');
      if (permission === AUTH_PERMISSION_DENIED) r.varBytes('auth reason');
      out.push({ kind: 'auth', data: payload.subarray(start, r.pos) });
    } else {
      throw new SyncMessageError(`Unknown message type: ${type}`);
    }
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Result of applying a payload to a doc. */
export interface ApplyResult {
  /** Concatenated SyncStep2 replies to the payload's SyncStep1s, or null when there were none. */
  reply: Uint8Array | null;
  /** True when the doc's content changed (a Yjs `update` event fired). */
  changed: boolean;
  /** The decoded messages, in order. */
  messages: SyncMessage[];
}

/**
 * Applies a y-sync payload to a doc the y-protocols way: SyncStep1 is
 * answered with SyncStep2 (`Y.encodeStateAsUpdate(doc, sv)`), SyncStep2 and
 * Update are applied with `origin`; awareness and auth are ignored. The whole
 * payload is decoded before anything is applied, so a malformed payload
 * leaves the doc untouched. Throws SyncMessageError.
 */
export function applySyncMessages(doc: Y.Doc, payload: Uint8Array, origin: unknown): ApplyResult {
  const messages = decodeSyncMessages(payload);
  const replies: Uint8Array[] = [];
  let changed = false;
  const onUpdate = (): void => {
    changed = true;
  };
  doc.on('update', onUpdate);
  try {
    for (const msg of messages) {
      if (msg.kind === 'step1') {
        let diff: Uint8Array;
        try {
          diff = Y.encodeStateAsUpdate(doc, msg.stateVector);
        } catch (e) {
          throw new SyncMessageError(`Invalid state vector: ${errorText(e)}`);
        }
        replies.push(encodeSyncStep2(diff));
      } else if (msg.kind === 'step2' || msg.kind === 'update') {
        try {
          Y.applyUpdate(doc, msg.update, origin);
        } catch (e) {
          throw new SyncMessageError(`Failed to apply update: ${errorText(e)}`);
        }
      }
    }
  } finally {
    doc.off('update', onUpdate);
  }
  return { reply: replies.length ? concatBytes(replies) : null, changed, messages };
}

/** The part of Yjs's StructStore that says whether updates wait for missing ones. */
interface PendingView {
  pendingStructs: unknown;
  pendingDs: unknown;
}

/** True while the doc holds updates it cannot integrate yet because earlier ones are missing. */
export function hasPendingStructs(doc: Y.Doc): boolean {
  const store: PendingView = doc.store;
  return store.pendingStructs !== null || store.pendingDs !== null;
}

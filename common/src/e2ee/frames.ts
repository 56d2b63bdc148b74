/**
 * Payloads of the encrypted-workspace protocol (server/README.md), carried in
 * ordinary v2 frames (wire/frame.ts) whose doc id is `e2e:<workspace id>/<doc
 * tag>` (one encrypted doc) or `e2e:<workspace id>` (Changes, whole workspace).
 *
 * A payload is a tag byte (from 0x40, so a y-sync payload sent here fails
 * loudly) and fields: `n` is an unsigned LEB128 varUint (lib0's encoding,
 * minimal form only, below 2^53), `env` is n length + envelope bytes, `str` is
 * u8 length + UTF-8. Decoding is strict: truncation, trailing bytes, unknown
 * tags or flags and non-minimal numbers are `E2eeFrameError`s naming the field.
 */
import { encodeUtf8, tryDecodeUtf8 } from '../wire/utf8';

/** Prefix of every encrypted-workspace doc id. */
export const E2EE_DOC_PREFIX = 'e2e:';
/** Characters of a doc tag: base64url without padding of 16 bytes. */
export const DOC_TAG_LENGTH = 22;
const DOC_TAG = /^[A-Za-z0-9_-]{22}$/;
/** Longest workspace id (UTF-8 bytes), as the server accepts them. */
const MAX_WORKSPACE_ID_BYTES = 200;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export const E2eeTag = {
  Append: 0x40,
  Appended: 0x41,
  Pull: 0x42,
  Batch: 0x43,
  Relay: 0x44,
  PutSnapshot: 0x45,
  SnapshotResult: 0x46,
  CompactHint: 0x47,
  Changes: 0x48,
  ChangesReply: 0x49,
  Refused: 0x4f,
} as const;

/** Why an Append (or another request with a req number) was refused. */
export const RefusedCode = { NotAllowed: 1, Malformed: 2, CounterConflict: 3, Quota: 4, Unavailable: 5 } as const;
export type RefusedCode = (typeof RefusedCode)[keyof typeof RefusedCode];

export const SnapshotStatus = { Stored: 0, Conflict: 1, Invalid: 2 } as const;
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];

const BATCH_SNAPSHOT = 1;
const BATCH_MORE = 2;
const SNAP_ID_BYTES = 16;

export type E2eeMessage =
  | { type: 'append'; req: number; env: Uint8Array }
  | { type: 'appended'; req: number; seq: number }
  | { type: 'refused'; req: number; code: RefusedCode }
  | { type: 'pull'; after: number }
  /** `more`: the reply stopped at the size limit; pull again after the last seq. */
  | { type: 'batch'; head: number; more: boolean; snapshot: { snapSeq: number; env: Uint8Array } | null; envelopes: { seq: number; env: Uint8Array }[] }
  | { type: 'putSnapshot'; req: number; env: Uint8Array }
  | { type: 'snapshotResult'; req: number; status: SnapshotStatus; snapId: Uint8Array; snapSeq: number }
  | { type: 'changes'; after: number }
  | { type: 'changesReply'; changeHead: number; docs: { tag: string; head: number }[] }
  | { type: 'relay'; seq: number; env: Uint8Array }
  | { type: 'compactHint'; logCount: number; logBytes: number };

export type E2eeMessageType = E2eeMessage['type'];

/** A payload that does not follow the layout; the message names the field. */
export class E2eeFrameError extends Error {
  override name = 'E2eeFrameError';
  constructor(message: string) {
    super(`Malformed encrypted-workspace frame: ${message}`);
  }
}

/** `e2e:<workspace id>/<doc tag>` */
export function e2eeDocId(workspaceId: string, tag: string): string {
  return `${E2EE_DOC_PREFIX}${workspaceId}/${tag}`;
}

/** `e2e:<workspace id>`: the id of whole-workspace messages (Changes). */
export function e2eeWorkspaceDocId(workspaceId: string): string {
  return `${E2EE_DOC_PREFIX}${workspaceId}`;
}

export function isE2eeDocId(docId: string): boolean {
  return docId.startsWith(E2EE_DOC_PREFIX);
}

/**
 * Splits an `e2e:` doc id; `tag` is null for the whole-workspace id. Null for
 * anything else: another prefix, a bad workspace id or a tag that is not 22
 * base64url characters.
 */
export function parseE2eeDocId(docId: string): { workspaceId: string; tag: string | null } | null {
  if (!isE2eeDocId(docId)) return null;
  const rest = docId.slice(E2EE_DOC_PREFIX.length);
  const slash = rest.indexOf('/');
  const workspaceId = slash < 0 ? rest : rest.slice(0, slash);
  if (workspaceId.length === 0 || CONTROL_CHARS.test(workspaceId) || encodeUtf8(workspaceId).length > MAX_WORKSPACE_ID_BYTES) return null;
  if (slash < 0) return { workspaceId, tag: null };
  const tag = rest.slice(slash + 1);
  return DOC_TAG.test(tag) ? { workspaceId, tag } : null;
}

class Writer {
  private chunks: Uint8Array[] = [];
  private small: number[] = [];
  private flush(): void {
    if (this.small.length > 0) {
      this.chunks.push(Uint8Array.from(this.small));
      this.small = [];
    }
  }
  u8(v: number): void {
    this.small.push(v & 0xff);
  }
  n(v: number, field: string): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new E2eeFrameError(`${field} ${v} is not an unsigned integer below 2^53`);
    while (v > 0x7f) {
      this.small.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.small.push(v);
  }
  bytes(b: Uint8Array): void {
    this.flush();
    this.chunks.push(b);
  }
  env(b: Uint8Array): void {
    this.n(b.length, 'envelope length');
    this.bytes(b);
  }
  done(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.chunks.reduce((s, c) => s + c.length, 0));
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

class Reader {
  private pos = 1;
  constructor(private readonly b: Uint8Array) {}
  u8(field: string): number {
    if (this.pos >= this.b.length) throw new E2eeFrameError(`truncated before ${field}`);
    return this.b[this.pos++];
  }
  n(field: string): number {
    let value = 0;
    let scale = 1;
    const start = this.pos;
    for (;;) {
      if (this.pos >= this.b.length) throw new E2eeFrameError(`truncated inside ${field}`);
      const byte = this.b[this.pos++];
      value += (byte & 0x7f) * scale;
      if (!Number.isSafeInteger(value)) throw new E2eeFrameError(`${field} is not below 2^53`);
      if ((byte & 0x80) === 0) {
        if (byte === 0 && this.pos - start > 1) throw new E2eeFrameError(`${field} is not minimally encoded`);
        return value;
      }
      scale *= 0x80;
      if (scale > 2 ** 56) throw new E2eeFrameError(`${field} is not below 2^53`);
    }
  }
  bytes(len: number, field: string): Uint8Array {
    if (this.b.length - this.pos < len) throw new E2eeFrameError(`${field} needs ${len} bytes, ${this.b.length - this.pos} left`);
    const out = this.b.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  env(field: string): Uint8Array {
    return this.bytes(this.n(`${field} length`), field);
  }
  str(field: string): string {
    const raw = this.bytes(this.u8(`${field} length`), field);
    const r = tryDecodeUtf8(raw);
    if (!r.ok) throw new E2eeFrameError(`${field} is not UTF-8: ${r.error}`);
    return r.text;
  }
  end(type: string): void {
    if (this.pos !== this.b.length) throw new E2eeFrameError(`${this.b.length - this.pos} bytes after the end of ${type}`);
  }
}

/** Encodes one message; throws E2eeFrameError for a value the layout cannot carry. */
export function encodeE2eeMessage(msg: E2eeMessage): Uint8Array {
  const w = new Writer();
  switch (msg.type) {
    case 'append':
    case 'putSnapshot':
      w.u8(msg.type === 'append' ? E2eeTag.Append : E2eeTag.PutSnapshot);
      w.n(msg.req, 'req');
      w.env(msg.env);
      break;
    case 'appended':
      w.u8(E2eeTag.Appended);
      w.n(msg.req, 'req');
      w.n(msg.seq, 'seq');
      break;
    case 'refused':
      w.u8(E2eeTag.Refused);
      w.n(msg.req, 'req');
      w.u8(msg.code);
      break;
    case 'pull':
    case 'changes':
      w.u8(msg.type === 'pull' ? E2eeTag.Pull : E2eeTag.Changes);
      w.n(msg.after, 'after');
      break;
    case 'batch':
      w.u8(E2eeTag.Batch);
      w.n(msg.head, 'head');
      w.u8((msg.snapshot ? BATCH_SNAPSHOT : 0) | (msg.more ? BATCH_MORE : 0));
      if (msg.snapshot) {
        w.n(msg.snapshot.snapSeq, 'snap seq');
        w.env(msg.snapshot.env);
      }
      w.n(msg.envelopes.length, 'count');
      for (const e of msg.envelopes) {
        w.n(e.seq, 'seq');
        w.env(e.env);
      }
      break;
    case 'snapshotResult':
      if (msg.snapId.length !== SNAP_ID_BYTES) throw new E2eeFrameError(`snap id has ${msg.snapId.length} bytes, expected 16`);
      w.u8(E2eeTag.SnapshotResult);
      w.n(msg.req, 'req');
      w.u8(msg.status);
      w.bytes(msg.snapId);
      w.n(msg.snapSeq, 'snap seq');
      break;
    case 'changesReply':
      w.u8(E2eeTag.ChangesReply);
      w.n(msg.changeHead, 'change head');
      w.n(msg.docs.length, 'count');
      for (const d of msg.docs) {
        const tag = encodeUtf8(d.tag);
        if (tag.length > 255) throw new E2eeFrameError(`doc tag of ${tag.length} bytes does not fit a str`);
        w.u8(tag.length);
        w.bytes(tag);
        w.n(d.head, 'head');
      }
      break;
    case 'relay':
      w.u8(E2eeTag.Relay);
      w.n(msg.seq, 'seq');
      w.env(msg.env);
      break;
    case 'compactHint':
      w.u8(E2eeTag.CompactHint);
      w.n(msg.logCount, 'log count');
      w.n(msg.logBytes, 'log bytes');
      break;
  }
  return w.done();
}

const REFUSED_CODES = new Set<number>(Object.values(RefusedCode));
const SNAPSHOT_STATUSES = new Set<number>(Object.values(SnapshotStatus));

/** Decodes one payload (copies out envelope bytes); throws E2eeFrameError. */
export function decodeE2eeMessage(payload: Uint8Array): E2eeMessage {
  if (payload.length === 0) throw new E2eeFrameError('empty payload');
  const r = new Reader(payload);
  let msg: E2eeMessage;
  switch (payload[0]) {
    case E2eeTag.Append:
      msg = { type: 'append', req: r.n('req'), env: r.env('envelope') };
      break;
    case E2eeTag.PutSnapshot:
      msg = { type: 'putSnapshot', req: r.n('req'), env: r.env('envelope') };
      break;
    case E2eeTag.Appended:
      msg = { type: 'appended', req: r.n('req'), seq: r.n('seq') };
      break;
    case E2eeTag.Refused: {
      const req = r.n('req');
      const code = r.u8('code');
      if (!REFUSED_CODES.has(code)) throw new E2eeFrameError(`unknown refusal code ${code}`);
      msg = { type: 'refused', req, code: code as RefusedCode };
      break;
    }
    case E2eeTag.Pull:
      msg = { type: 'pull', after: r.n('after') };
      break;
    case E2eeTag.Changes:
      msg = { type: 'changes', after: r.n('after') };
      break;
    case E2eeTag.Batch: {
      const head = r.n('head');
      const flags = r.u8('flags');
      if ((flags & ~(BATCH_SNAPSHOT | BATCH_MORE)) !== 0) throw new E2eeFrameError(`unknown batch flags ${flags}`);
      const snapshot = flags & BATCH_SNAPSHOT ? { snapSeq: r.n('snap seq'), env: r.env('snapshot') } : null;
      const count = r.n('count');
      const envelopes: { seq: number; env: Uint8Array }[] = [];
      // Each entry takes at least 2 bytes: a count beyond that is a lie, not an allocation.
      if (count > payload.length) throw new E2eeFrameError(`count ${count} exceeds the payload`);
      for (let i = 0; i < count; i++) envelopes.push({ seq: r.n(`seq ${i}`), env: r.env(`envelope ${i}`) });
      msg = { type: 'batch', head, more: (flags & BATCH_MORE) !== 0, snapshot, envelopes };
      break;
    }
    case E2eeTag.SnapshotResult: {
      const req = r.n('req');
      const status = r.u8('status');
      if (!SNAPSHOT_STATUSES.has(status)) throw new E2eeFrameError(`unknown snapshot status ${status}`);
      msg = { type: 'snapshotResult', req, status: status as SnapshotStatus, snapId: r.bytes(SNAP_ID_BYTES, 'snap id'), snapSeq: r.n('snap seq') };
      break;
    }
    case E2eeTag.ChangesReply: {
      const changeHead = r.n('change head');
      const count = r.n('count');
      if (count > payload.length) throw new E2eeFrameError(`count ${count} exceeds the payload`);
      const docs: { tag: string; head: number }[] = [];
      for (let i = 0; i < count; i++) docs.push({ tag: r.str(`doc tag ${i}`), head: r.n(`head ${i}`) });
      msg = { type: 'changesReply', changeHead, docs };
      break;
    }
    case E2eeTag.Relay:
      msg = { type: 'relay', seq: r.n('seq'), env: r.env('envelope') };
      break;
    case E2eeTag.CompactHint:
      msg = { type: 'compactHint', logCount: r.n('log count'), logBytes: r.n('log bytes') };
      break;
    default:
      throw new E2eeFrameError(`unknown tag 0x${payload[0].toString(16).padStart(2, '0')}`);
  }
  r.end(msg.type);
  return msg;
}

/**
 * The req number of a request that did not decode whole (so the refusal can
 * name it), or 0 when not even that can be read.
 */
export function salvageReq(payload: Uint8Array): number {
  if (payload[0] !== E2eeTag.Append && payload[0] !== E2eeTag.PutSnapshot) return 0;
  try {
    return new Reader(payload).n('req');
  } catch {
    return 0;
  }
}

/**
 * A raw client of the encrypted-workspace protocol for tests: it sends frames
 * with `e2e:` doc ids and records every message it receives, decoded. The
 * envelopes it builds have real headers (envelope-header.ts) and random bytes
 * where a device would put nonce and ciphertext: the server cannot tell.
 */
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { encodeEnvelopeHeader, NONCE_BYTES, TAG_BYTES } from '../../../common/src/e2ee/envelope-header';
import { decodeE2eeMessage, encodeE2eeMessage, type E2eeMessage } from '../../../common/src/e2ee/frames';
import { decodeFrame, encodeFrame } from '../../../common/src/wire/frame';
import { waitFor } from './wait';

export interface Received {
  docId: string;
  msg: E2eeMessage;
}

export class E2eeClient {
  readonly received: Received[] = [];
  readonly texts: string[] = [];
  /** Binary frames whose payload did not decode as an e2ee message. */
  readonly other: Uint8Array[] = [];
  closeCode: number | null = null;
  private nextReq = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        this.texts.push(data.toString('utf8'));
        return;
      }
      const { docId, payload } = decodeFrame(new Uint8Array(data));
      try {
        this.received.push({ docId, msg: decodeE2eeMessage(payload) });
      } catch {
        this.other.push(payload.slice());
      }
    });
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  static async connect(wsUrl: string, token: string): Promise<E2eeClient> {
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new E2eeClient(ws);
  }

  send(docId: string, msg: E2eeMessage): void {
    this.ws.send(encodeFrame(docId, encodeE2eeMessage(msg)));
  }

  sendRaw(docId: string, payload: Uint8Array): void {
    this.ws.send(encodeFrame(docId, payload));
  }

  /** Messages of one type (and doc) received so far. */
  of<T extends E2eeMessage['type']>(type: T, docId?: string): Extract<E2eeMessage, { type: T }>[] {
    return this.received.filter((r) => r.msg.type === type && (docId === undefined || r.docId === docId)).map((r) => r.msg as Extract<E2eeMessage, { type: T }>);
  }

  /** Waits for the answer (Appended, Refused or SnapshotResult) carrying `req`. */
  async answer(docId: string, req: number): Promise<E2eeMessage> {
    return waitFor(
      () =>
        this.received.find(
          (r) => r.docId === docId && (r.msg.type === 'appended' || r.msg.type === 'refused' || r.msg.type === 'snapshotResult') && r.msg.req === req,
        )?.msg,
      `answer to req ${req} on ${docId}`,
    );
  }

  async append(docId: string, env: Uint8Array, req = this.nextReq++): Promise<E2eeMessage> {
    this.send(docId, { type: 'append', req, env });
    return this.answer(docId, req);
  }

  async putSnapshot(docId: string, env: Uint8Array, req = this.nextReq++): Promise<E2eeMessage> {
    this.send(docId, { type: 'putSnapshot', req, env });
    return this.answer(docId, req);
  }

  /** Sends Pull and waits for the next Batch of that doc. */
  async pull(docId: string, after: number): Promise<Extract<E2eeMessage, { type: 'batch' }>> {
    const before = this.of('batch', docId).length;
    this.send(docId, { type: 'pull', after });
    await waitFor(() => this.of('batch', docId).length > before, `batch of ${docId}`);
    return this.of('batch', docId)[before];
  }

  async changes(workspaceDocId: string, after: number): Promise<Extract<E2eeMessage, { type: 'changesReply' }>> {
    const before = this.of('changesReply').length;
    this.send(workspaceDocId, { type: 'changes', after });
    await waitFor(() => this.of('changesReply').length > before, 'changes reply');
    return this.of('changesReply')[before];
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** A device identity: 16 random bytes and a run number. */
export interface Device {
  id: Uint8Array;
  run: number;
}

export function newDevice(run = 1): Device {
  return { id: new Uint8Array(crypto.randomBytes(16)), run };
}

/** An update envelope with a real header and `padded` random ciphertext bytes (a padding bucket). */
export function updateEnvelope(device: Device, ctr: number, padded = 256, epoch = 1): Uint8Array {
  const head = encodeEnvelopeHeader({ kind: 'update', epoch, deviceId: device.id, run: device.run, ctr });
  return withRandomBody(head, padded);
}

export function snapshotEnvelope(device: Device, snapId: Uint8Array, prevSnapId: Uint8Array, coversSeq: number, padded = 512): Uint8Array {
  const head = encodeEnvelopeHeader({ kind: 'snapshot', epoch: 1, deviceId: device.id, run: device.run, ctr: 0, snapshot: { snapId, prevSnapId, coversSeq } });
  return withRandomBody(head, padded);
}

function withRandomBody(head: Uint8Array, padded: number): Uint8Array {
  const out = new Uint8Array(head.length + NONCE_BYTES + padded + TAG_BYTES);
  out.set(head);
  out.set(crypto.randomBytes(out.length - head.length), head.length);
  return out;
}

/** A key record of the documented shape (random bytes where a device puts salt, nonce and wrapped key). */
export function keyRecord(gen: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const b64 = (n: number) => crypto.randomBytes(n).toString('base64');
  return {
    v: 1,
    gen,
    epoch: 1,
    kdf: { alg: 'argon2id', m: 19456, t: 2, p: 1, salt: b64(16) },
    nonce: b64(24),
    wrapped: b64(48),
    ring: null,
    ...extra,
  };
}

/** A random doc tag (22 base64url characters). */
export function randomTag(): string {
  return crypto.randomBytes(16).toString('base64url');
}

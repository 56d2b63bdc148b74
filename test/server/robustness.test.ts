/**
 * Malformed input and oversized messages: the offending frame (or socket) is
 * refused, nothing is stored or relayed, and other clients are not disturbed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeFrame } from '../../common/src/wire/frame';
import { TestClient, step2Payload, updatePayload } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';

const BODY = 'body:ws1/a.md';
const MAX = 64 * 1024;

let ts: TestServer;
let token: string;
const clients: TestClient[] = [];

async function client(): Promise<TestClient> {
  const c = await TestClient.connect(ts.wsUrl, token);
  clients.push(c);
  return c;
}

async function joined(): Promise<TestClient> {
  const c = await client();
  c.sendStep1(BODY);
  await waitFor(() => c.framesFor(BODY).some((f) => f.subtype === 1), 'joined');
  return c;
}

beforeEach(async () => {
  ts = await startTestServer({ maxMessageBytes: MAX });
  token = ts.server.createToken('alice');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await ts.dispose();
});

/** Both clients still sync: a edits, b sees it. */
async function stillSyncing(a: TestClient, b: TestClient, text: string): Promise<void> {
  a.doc(BODY).getText('body').insert(0, text);
  await b.waitForDoc(BODY, (d) => d.getText('body').toString().includes(text), `"${text}" reaches b`);
}

describe('malformed frames', () => {
  it('drops frames that do not parse and keeps the socket', async () => {
    const a = await joined();
    const b = await joined();
    const garbage: Uint8Array[] = [
      new Uint8Array([]),
      new Uint8Array([200, 1, 2]), // doc id length beyond the frame
      new Uint8Array([2, 0xff, 0xfe, 0, 0]), // doc id not UTF-8
      encodeFrame(BODY, new Uint8Array([0, 9, 1, 0])), // unknown sync subtype
      encodeFrame(BODY, new Uint8Array([7, 1, 2])), // unknown message type
      encodeFrame(BODY, new Uint8Array([0, 2, 50, 1])), // truncated update
      encodeFrame(BODY, new Uint8Array([0, 0, 3, 0xff, 0xff, 0xff])), // bad state vector
      encodeFrame('nonsense:x', new Uint8Array([0, 0, 1, 0])), // unknown prefix
      encodeFrame('body:ws1', new Uint8Array([0, 0, 1, 0])), // body id without a key
      encodeFrame(BODY, new Uint8Array([1, 3, 9, 9, 9])), // awareness garbage
    ];
    for (const g of garbage) a.sendRaw(g);
    a.sendText('not json');
    a.sendText('{"type":"focus","files":["a.md"]}');
    a.sendText('{"type":"unfocus","files":["a.md"]}');
    a.sendText('{"action":"save","doc":"body:ws1/a.md"}');
    await stillSyncing(a, b, 'after garbage ');
    await stillSyncing(b, a, 'both ways ');
    expect(a.closeCode).toBeNull();
    expect(b.frames.filter((f) => f.type === 1)).toEqual([]);
  });

  it('rejects garbage Yjs updates for that doc only: not stored, not relayed', async () => {
    const a = await joined();
    const b = await joined();
    const seed = new Y.Doc();
    seed.getText('body').insert(0, 'valid');
    const bogus = [
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]),
      Y.encodeStateAsUpdate(seed).slice(0, 6),
      new Uint8Array(0),
    ];
    const bFrames = b.framesFor(BODY).length;
    for (const u of bogus) {
      a.sendPayload(BODY, updatePayload(u));
      a.sendPayload(BODY, step2Payload(u));
    }
    await a.roundTrip(BODY);
    await b.roundTrip(BODY);
    expect(b.framesFor(BODY).slice(bFrames).filter((f) => f.subtype === 2)).toEqual([]);
    expect(ts.logs.filter((l) => l.includes('rejected update')).length).toBeGreaterThanOrEqual(bogus.length);
    await stillSyncing(a, b, 'fine ');

    // Nothing bogus was stored: a restart loads cleanly with the valid text only.
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await ts.stop();
    const again = await startTestServer({ dataDir: ts.dataDir });
    try {
      const c = await TestClient.connect(again.wsUrl, token);
      c.sendStep1(BODY);
      await c.waitForDoc(BODY, (d) => d.getText('body').toString() === 'fine ');
      await c.close();
      expect(again.logs.join('')).not.toContain('loading a document failed');
    } finally {
      await again.stop();
    }
  });
});

describe('message size limit', () => {
  it('closes only the socket that sent an oversized message (1009)', async () => {
    const a = await joined();
    const b = await joined();
    const c = await joined();
    const huge = new Y.Doc();
    huge.getText('body').insert(0, 'x'.repeat(MAX * 2));
    c.sendUpdate(BODY, Y.encodeStateAsUpdate(huge));
    await waitFor(() => c.closeCode !== null, 'c closed');
    expect(c.closeCode).toBe(1009);
    await stillSyncing(a, b, 'small ');
    expect(b.doc(BODY).getText('body').toString()).not.toContain('xxxx');
    await waitFor(() => ts.logs.some((l) => l.includes('message too big')), 'logged');
  });

  it('accepts a message just under the limit', async () => {
    const a = await joined();
    const b = await joined();
    const doc = new Y.Doc();
    doc.getText('body').insert(0, 'y'.repeat(MAX - 200));
    a.sendUpdate(BODY, Y.encodeStateAsUpdate(doc));
    await b.waitForDoc(BODY, (d) => d.getText('body').length === MAX - 200);
  });
});

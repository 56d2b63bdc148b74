/**
 * Clients editing one body doc through real servers, for the relay
 * benchmarks: each connects with a token and joins the doc, edits are sent at
 * an even rate spread over the clients, and every delivery of an edit to
 * another client is recorded with its latency. An edit is recognised by a
 * marker in its text (`#n#`), so a delivery counts even when a server relays
 * it merged or re-encoded (another node reads it back from the database).
 */
import WebSocket from 'ws';
import * as Y from 'yjs';
import { encodeFrame } from '../common/src/wire/frame';
import { encodeSyncStep1, encodeSyncUpdate } from '../common/src/wire/sync';
import { BODY_TEXT_NAME } from '../common/src/workspace/schema';
import { spawnCli } from '../test/server/helpers/child';

/** A token for `user` from the server's CLI (`token create`), on that server's data folder. */
export async function createToken(dataDir: string, user: string): Promise<string> {
  const cli = spawnCli(['token', 'create', '--user', user, '--data-dir', dataDir]);
  await cli.exited;
  return cli.stdout.join('').trim().split('\n').pop()!.trim();
}

/** One edit arriving at another client. */
export interface Delivery {
  ms: number;
  /** Sending and receiving client (index into the clients). */
  from: number;
  to: number;
}

const MARKER = /#(\d+)#/g;

export interface Editors {
  readonly deliveries: Delivery[];
  /** Milliseconds from send to arrival, one per delivery. */
  readonly latencies: number[];
  /** Sends `perSecond` updates per client per second for `seconds`; resolves to the updates sent. */
  edit(perSecond: number, seconds: number): Promise<number>;
  close(): void;
}

/** `count` clients joined to `docId` on `wsUrls` (client i on wsUrls[i % n]). */
export async function connectEditors(wsUrls: string[], token: string, docId: string, count: number): Promise<Editors> {
  const sentAt = new Map<number, { t: number; from: number }>();
  const deliveries: Delivery[] = [];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(`${wsUrls[i % wsUrls.length]}?token=${token}`);
    ws.binaryType = 'nodebuffer';
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const to = i;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      const now = performance.now();
      for (const m of data.toString('latin1').matchAll(MARKER)) {
        const sent = sentAt.get(Number(m[1]));
        if (sent !== undefined && sent.from !== to) deliveries.push({ ms: now - sent.t, from: sent.from, to });
      }
    });
    ws.send(encodeFrame(docId, encodeSyncStep1(new Uint8Array([0]))));
    sockets.push(ws);
  }
  const docs = sockets.map(() => new Y.Doc());
  return {
    deliveries,
    get latencies() {
      return deliveries.map((d) => d.ms);
    },
    async edit(perSecond, seconds) {
      let sent = 0;
      let next = 0;
      const t0 = performance.now();
      // Sends are spread evenly: client i sends every 1/perSecond s, offset by i/count of that period.
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const now = performance.now() - t0;
          if (now > seconds * 1000) {
            clearInterval(timer);
            resolve();
            return;
          }
          const due = Math.floor((now / 1000) * perSecond * count);
          for (; next < due; next++) {
            const i = next % count;
            let update: Uint8Array | null = null;
            const capture = (u: Uint8Array) => (update = u);
            docs[i].on('update', capture);
            docs[i].getText(BODY_TEXT_NAME).insert(0, `#${next}#`);
            docs[i].off('update', capture);
            sentAt.set(next, { t: performance.now(), from: i });
            sockets[i].send(encodeFrame(docId, encodeSyncUpdate(update!)));
            sent++;
          }
        }, 2);
      });
      return sent;
    },
    close() {
      for (const ws of sockets) ws.close();
    },
  };
}

/** The `p` quantile (0..1) of `values`, or null when there are none. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

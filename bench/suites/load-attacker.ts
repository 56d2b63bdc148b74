/**
 * The attackers of the load benchmark, in their own process so that their
 * busy loops do not slow down the measuring clients:
 *   node --import tsx bench/suites/load-attacker.ts <ws url> <http url> <token> <workspace id>
 * 4 sockets without a token send junk frames as fast as they can (each
 * reconnects when the server closes it), one user uploads a zip bomb
 * again as soon as the previous upload was answered, and the same user sends
 * updates deleting a million items of a body doc, one after another. On
 * SIGTERM it prints `{"sockets","frames","uploads","statuses","deletes"}`
 * and exits.
 */
import { zipSync } from 'fflate';
import WebSocket from 'ws';
import { encodeFrame } from '../../common/src/wire/frame';
import { encodeSyncStep1, encodeSyncUpdate } from '../../common/src/wire/sync';
import { deleteSetUpdate } from '../../server/src/testing/delete-set-update';

const [wsUrl, httpUrl, token, workspaceId] = process.argv.slice(2);
const FLOODERS = 4;

/** 64 markdown entries of 4 MiB of zeros (each at the per-file limit): 256 MiB inflated from about 0.3 MB. */
const zeros = new Uint8Array(4 * 1024 * 1024 - 1);
const bomb = zipSync(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`bomb-${i}.md`, zeros])), { level: 9 });

let stopped = false;
let sockets = 0;
let frames = 0;
let uploads = 0;
const statuses = new Set<number>();

const junk = [new Uint8Array([200, 1, 2, 3]), encodeFrame('body:victim/a.md', new Uint8Array([0, 0, 1, 0])), new Uint8Array(256).fill(0xff)];
function flooder(): void {
  if (stopped) return;
  const ws = new WebSocket(`${wsUrl}?token=dxs_attacker`);
  ws.on('open', () => {
    sockets++;
    // As fast as the connection takes them: more only once the kernel took what was queued.
    const burst = () => {
      if (ws.readyState !== ws.OPEN || stopped) return;
      if (ws.bufferedAmount < 256 * 1024) for (let i = 0; i < 200; i++, frames++) ws.send(junk[i % junk.length]);
      setTimeout(burst, ws.bufferedAmount < 256 * 1024 ? 0 : 5);
    };
    burst();
  });
  ws.on('error', () => undefined);
  ws.on('close', () => setTimeout(flooder, 1));
}
for (let i = 0; i < FLOODERS; i++) flooder();

const bomber = (async () => {
  while (!stopped) {
    try {
      const res = await fetch(`${httpUrl}/api/workspaces/${workspaceId}/snapshot?mode=merge`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        body: bomb,
      });
      await res.arrayBuffer();
      statuses.add(res.status);
    } catch {
      statuses.add(0);
    }
    uploads++;
  }
})();

let deletes = 0;
const deleter = (async () => {
  const doc = `body:${workspaceId}/mass-delete.md`;
  const frame = encodeFrame(doc, encodeSyncUpdate(deleteSetUpdate(0x5eed, 1_000_000)));
  while (!stopped) {
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${wsUrl}?token=${token}`);
      ws.on('open', () => ws.send(encodeFrame(doc, encodeSyncStep1(new Uint8Array([0])))));
      // Each answer (the SyncStep1 reply, the refusal) lets the next update go.
      ws.on('message', () => {
        if (stopped) return ws.close();
        deletes++;
        ws.send(frame);
      });
      ws.on('error', () => undefined);
      ws.on('close', () => setTimeout(resolve, 10));
    });
  }
})();

process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  stopped = true;
  void Promise.all([bomber, deleter]).finally(() => {
    process.stdout.write(`${JSON.stringify({ sockets, frames, uploads, statuses: [...statuses], deletes })}\n`);
    process.exit(0);
  });
});

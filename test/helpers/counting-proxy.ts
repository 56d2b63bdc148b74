/**
 * A loopback TCP forwarder that counts the bytes both ways (what a transfer
 * really costs on the wire) and, when asked, keeps every byte of every
 * connection in order, per direction (what a server saw and sent).
 */
import net from 'node:net';

export interface CountingProxy {
  port: number;
  /** Both directions together. */
  bytes(): number;
  /** Client to server only. */
  bytesToServer(): number;
  /** Server to client only. */
  bytesToClient(): number;
  close(): Promise<void>;
}

/** One client connection through a recording proxy, its bytes per direction in arrival order. */
export interface RecordedConnection {
  /** 1, 2, ... in the order clients connected. */
  id: number;
  toServer: Buffer[];
  toClient: Buffer[];
}

export interface RecordingProxy extends CountingProxy {
  /** Every connection so far (still open ones included, with what they carried up to now). */
  connections(): readonly RecordedConnection[];
}

/** Forwards 127.0.0.1:<returned port> to 127.0.0.1:`port`. */
export async function countingProxy(port: number): Promise<CountingProxy> {
  return forward(port, null);
}

/** `countingProxy` that also records every connection's bytes. */
export async function recordingProxy(port: number): Promise<RecordingProxy> {
  const connections: RecordedConnection[] = [];
  const proxy = await forward(port, connections);
  return { ...proxy, connections: () => connections };
}

async function forward(port: number, record: RecordedConnection[] | null): Promise<CountingProxy> {
  let toServer = 0;
  let toClient = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const conn: RecordedConnection | null = record ? { id: record.length + 1, toServer: [], toClient: [] } : null;
    if (conn) record!.push(conn);
    client.on('data', (d: Buffer) => {
      toServer += d.length;
      conn?.toServer.push(d);
    });
    upstream.on('data', (d: Buffer) => {
      toClient += d.length;
      conn?.toClient.push(d);
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    bytes: () => toServer + toClient,
    bytesToServer: () => toServer,
    bytesToClient: () => toClient,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

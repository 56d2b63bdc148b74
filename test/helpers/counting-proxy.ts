/** A loopback TCP forwarder that counts the bytes both ways (what a transfer really costs on the wire). */
import net from 'node:net';

export interface CountingProxy {
  port: number;
  bytes(): number;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:<returned port> to 127.0.0.1:`port`. */
export async function countingProxy(port: number): Promise<CountingProxy> {
  let bytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d) => (bytes += d.length));
    upstream.on('data', (d) => (bytes += d.length));
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
    bytes: () => bytes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

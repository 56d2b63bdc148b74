/**
 * The counting proxy (test/helpers/counting-proxy.ts) in a child process of
 * its own. A device in this process blocks its event loop during each
 * synchronous host call (HTTP requests of the plugin, the plugin call
 * itself), so a proxy on the same event loop would stall the very requests
 * it forwards; in its own process it forwards while the device waits.
 *
 * Run as `node --import tsx bench/proxy-process.ts --serve <port>`: it sends
 * `{port}` once listening and answers each `counts` message with the bytes
 * each way so far.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { countingProxy } from '../test/helpers/counting-proxy';

export interface ProxyCounts {
  toServer: number;
  toClient: number;
}

export interface ProcessProxy {
  port: number;
  counts(): Promise<ProxyCounts>;
  close(): Promise<void>;
}

type ChildMessage = { port: number } | { counts: ProxyCounts } | { error: string };

/** Forwards 127.0.0.1:<returned port> to 127.0.0.1:`port` from a child process. */
export async function startProxyProcess(port: number): Promise<ProcessProxy> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', String(port)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = () =>
    new Promise<ChildMessage>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`proxy process exited (${code}) before answering`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as ChildMessage);
      });
    });
  const first = await next();
  if (!('port' in first)) throw new Error(`proxy process failed to start: ${'error' in first ? first.error : JSON.stringify(first)}`);
  return {
    port: first.port,
    async counts() {
      const answer = next();
      child.send('counts');
      const m = await answer;
      if (!('counts' in m)) throw new Error(`proxy process answered ${JSON.stringify(m)}`);
      return m.counts;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv[2] === '--serve' && process.send) {
  const send = (m: ChildMessage) => process.send!(m);
  try {
    const proxy = await countingProxy(Number(process.argv[3]));
    process.on('message', (m) => {
      if (m === 'counts') send({ counts: { toServer: proxy.bytesToServer(), toClient: proxy.bytesToClient() } });
    });
    process.on('disconnect', () => void proxy.close().then(() => process.exit(0)));
    send({ port: proxy.port });
  } catch (e) {
    send({ error: (e as Error).message });
    process.exit(1);
  }
}

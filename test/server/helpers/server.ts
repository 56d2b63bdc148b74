/** Starts an in-process sync server on port 0 with its own data dir and a captured log. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../../server/src/index';
import { createLogger } from '../../../server/src/log';

export interface TestServer {
  server: RunningServer;
  /** `ws://127.0.0.1:<port>/sync2` */
  wsUrl: string;
  dataDir: string;
  /** Every log line written so far. */
  logs: string[];
  /** Closes the server (idempotent) and keeps the data dir. */
  stop(): Promise<void>;
  /** Closes the server and removes the data dir. */
  dispose(): Promise<void>;
}

/** A fresh temporary data directory. */
export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-server-test-'));
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDataDir();
  const logs: string[] = [];
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('debug', (line) => logs.push(line)),
    ...options,
    dataDir,
  });
  return {
    server,
    wsUrl: `ws://127.0.0.1:${server.port}/sync2`,
    dataDir,
    logs,
    stop: () => server.close(),
    dispose: async () => {
      await server.close();
      if (dataDir !== ':memory:') fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

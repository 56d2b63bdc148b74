/**
 * Set-up shared by the encrypted sync tests: the real server in process (so
 * a test can lower its compaction threshold, stop and restart it, and read
 * or change its SQLite storage), a token, devices stopped after each test.
 */
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { databasePath } from '../../server/src/db';
import type { ServerOptions } from '../../server/src/options';
import { cleanupTemp, startDevice, stopDevice, tempDir, type Device } from '../e2e/helpers';
import { provisionDeviceKeys, type EncryptedWorkspace } from '../helpers/e2ee-workspace';
import { startTestServer, type TestServer } from '../server/helpers/server';

export interface EncryptedSuite {
  readonly server: TestServer;
  readonly token: string;
  /** Starts a device over `dir` (a new temp folder by default), its keys provisioned first unless `provision` is false. */
  device(name: string, ws: EncryptedWorkspace, opts?: { dir?: string; provision?: boolean }): Promise<Device>;
  /** Takes a device the test stopped or crashed off the list stopped after the test. */
  untrack(device: Device): void;
  /** Stops the server (devices lose their socket and retry). */
  stopServer(): Promise<void>;
  /** Starts the server again on the same data dir and port. */
  restartServer(): Promise<void>;
  /** Runs `fn` on the server's database (a second connection; WAL lets both work). */
  db<T>(fn: (db: Database.Database) => T): T;
}

export function encryptedSuite(options: Partial<ServerOptions> = {}): EncryptedSuite {
  let ts: TestServer | undefined;
  let token = '';
  let port = 0;
  const devices: Device[] = [];
  beforeAll(async () => {
    ts = await startTestServer(options);
    port = ts.server.port;
    token = ts.server.createToken('alice');
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map(stopDevice));
  });
  afterAll(async () => {
    await ts?.dispose();
    cleanupTemp();
  });
  const suite: EncryptedSuite = {
    get server() {
      if (!ts) throw new Error('the server is not running');
      return ts;
    },
    get token() {
      return token;
    },
    async device(name, ws, opts = {}) {
      const dir = opts.dir ?? tempDir(name);
      if (opts.provision ?? true) provisionDeviceKeys(dir, ws);
      const d = await startDevice(name, dir, { serverUrl: suite.server.server.url, token, workspaceId: ws.workspaceId });
      devices.push(d);
      return d;
    },
    untrack(device) {
      const i = devices.indexOf(device);
      if (i >= 0) devices.splice(i, 1);
    },
    async stopServer() {
      await suite.server.stop();
    },
    async restartServer() {
      const dataDir = suite.server.dataDir;
      ts = await startTestServer({ ...options, dataDir, port });
    },
    db(fn) {
      const db = new Database(databasePath(suite.server.dataDir));
      try {
        return fn(db);
      } finally {
        db.close();
      }
    },
  };
  return suite;
}

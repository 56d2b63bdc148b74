/**
 * A throw-away Postgres server for tests: `initdb` into a temporary directory,
 * `postgres` on a free loopback port, trust auth, torn down by `stop()`.
 * Postgres refuses to run as root, so as root the server runs as the `postgres`
 * user (Debian's package creates it); dynamic shared memory lives in the data
 * directory, not in a container's small /dev/shm. Binaries come from DIARYX_PG_BIN, else the
 * newest /usr/lib/postgresql/<n>/bin, else PATH.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface PostgresInstance {
  port: number;
  /** The server's data directory (its files, for tests that read what it stored). */
  dataDir: string;
  /** Everything the server printed (its log), over every start. */
  log(): string;
  /** `postgres://postgres@127.0.0.1:<port>/<db>` */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server, keeping its data (`resume` starts it again). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
}

function binDir(): string {
  if (process.env.DIARYX_PG_BIN) return process.env.DIARYX_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (fs.existsSync(root)) {
    const versions = fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (fs.existsSync(path.join(root, v, 'bin', 'initdb'))) return path.join(root, v, 'bin');
  }
  return '';
}

/** Path of a Postgres program (`psql`, `pg_ctl`, ...) from the directory the test server's binaries come from. */
export function postgresBinary(name: string): string {
  const bin = binDir();
  return bin ? path.join(bin, name) : name;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** uid/gid to run Postgres as: ours, or the `postgres` user when we are root. */
function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error('running as root and there is no `postgres` user to run Postgres as (apt-get install postgresql creates it)');
    return Number(r.stdout.trim());
  };
  return { uid: id('-u'), gid: id('-g') };
}

async function waitReady(url: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`postgres exited with ${proc.exitCode}: ${log()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (e) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 30 s: ${(e as Error).message}; ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts a fresh Postgres; call `stop()` when done. */
export async function startPostgres(): Promise<PostgresInstance> {
  const bin = binDir();
  const exe = (name: string) => (bin ? path.join(bin, name) : name);
  const owner = runAs();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-pg-'));
  const data = path.join(root, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  if (owner) {
    fs.chownSync(root, owner.uid, owner.gid);
    fs.chownSync(data, owner.uid, owner.gid);
  }
  const ids = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const init = spawnSync(exe('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    encoding: 'utf8',
    ...ids,
  });
  if (init.error || init.status !== 0) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.error?.message ?? `exit ${init.status}`}): ${init.stderr}. Install Postgres: apt-get install -y postgresql`);
  }
  const port = await freePort();
  const url = (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`;
  let proc: ChildProcess;
  let output = '';
  const log: Buffer[] = [];
  const launch = async () => {
    output = '';
    proc = spawn(
      exe('postgres'),
      ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', root, '-c', 'fsync=off', '-c', 'max_connections=300', '-c', 'shared_buffers=32MB', '-c', 'dynamic_shared_memory_type=mmap'],
      { stdio: ['ignore', 'pipe', 'pipe'], ...ids },
    );
    // A test process that ends without stop() (a crash, a timeout) must not leave the server running.
    const current = proc;
    const onExit = () => current.kill('SIGQUIT');
    process.once('exit', onExit);
    proc.once('exit', () => process.off('exit', onExit));
    const keep = (d: Buffer) => {
      log.push(d);
      output = (output + d.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    await waitReady(url(), proc, () => output);
  };
  const halt = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGINT'); // fast shutdown
    await exited;
  };
  await launch();
  let stopped = false;
  return {
    port,
    dataDir: data,
    log: () => Buffer.concat(log).toString('utf8'),
    url,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    async restart() {
      await halt();
      await launch();
    },
    pause: halt,
    resume: launch,
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

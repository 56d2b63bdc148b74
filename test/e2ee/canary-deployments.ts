/**
 * The servers a canary run syncs through, each a real `serve` process (log at
 * `--log-level debug`, so whatever any level would write is searched) behind
 * a recording proxy per node, and what each keeps:
 *
 * - SQLite: one process; its data folder (database, -wal, -shm, attachment
 *   blobs) read while it runs and after it stopped, and every table row.
 * - Postgres: a Postgres server of the run's own (so no other run's canaries
 *   are in its files) and two `serve --database` nodes, device A on one and
 *   B on the other (what one relays to the other is captured too); a
 *   `pg_dump` of the database (rows as Postgres itself reads them: values
 *   Postgres compresses in its files show here), every file of the Postgres
 *   data directory (tables, indexes, WAL) after a clean shutdown, and the
 *   nodes' shared data folder (attachment blobs), and Postgres's own log
 *   with every statement the nodes sent and its parameters.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { parseKeyRecord, type KeyRecord } from '../../common/src/e2ee/key-record';
import { DATABASE_FILE } from '../../server/src/db';
import { postgresBinary, startPostgres, type PostgresInstance } from '../../server/src/testing/postgres-instance';
import { recordingProxy, type RecordingProxy } from '../helpers/counting-proxy';
import type { ScanSource } from '../helpers/leak-scanner';
import { folderSources, outputSources, sqliteRowSources } from '../helpers/server-capture';
import { trafficSources } from '../helpers/wire-capture';
import { spawnCli, type ChildServer } from '../server/helpers/child';
import { startNode, stopNode } from '../scale-out/nodes';
import { createToken, startServerProcess, tempDir, type ServerProcess } from '../e2e/helpers';
import { storedKeyRecord } from './canary-secrets';

export type Backend = 'sqlite' | 'postgres';

/** A running server set-up for one canary run. */
export interface Deployment {
  /** `alice`'s token. */
  token: string;
  /** The URL device A (`'A'`) or B syncs with: a recording proxy's. */
  url(device: 'A' | 'B'): string;
  /** The key record the server keeps for a workspace (null: not encrypted there); while running. */
  keyRecord(workspaceId: string): Promise<KeyRecord | null>;
  /** Every source while running, then everything stops and the sources of what stayed: all of them. */
  stopAndCapture(): Promise<ScanSource[]>;
  /** Stops whatever still runs (after a failure); idempotent. */
  close(): Promise<void>;
}

const LOG = ['--log-level', 'debug'];

export function startDeployment(backend: Backend): Promise<Deployment> {
  return backend === 'sqlite' ? sqliteDeployment() : postgresDeployment();
}

async function sqliteDeployment(): Promise<Deployment> {
  const dataDir = tempDir('canary-server');
  const token = await createToken(dataDir, 'alice');
  const server: ServerProcess = await startServerProcess(dataDir, { args: LOG });
  let proxy: RecordingProxy;
  try {
    proxy = await recordingProxy(server.port);
  } catch (e) {
    await server.stop();
    throw e;
  }
  const dbFile = path.join(dataDir, DATABASE_FILE);
  const close = async () => {
    await proxy.close().catch(() => undefined);
    await server.stop();
  };
  return {
    token,
    url: () => `http://127.0.0.1:${proxy.port}`,
    keyRecord: async (workspaceId) => storedKeyRecord(dataDir, workspaceId),
    async stopAndCapture() {
      const sources = [...folderSources(dataDir, 'data (live)'), ...sqliteRowSources(dbFile, 'sqlite (live)')];
      await close();
      sources.push(...folderSources(dataDir, 'data (stopped)'), ...sqliteRowSources(dbFile, 'sqlite (stopped)'));
      sources.push(...outputSources('server', server), ...trafficSources(proxy.connections()));
      return sources;
    },
    close,
  };
}

async function postgresDeployment(): Promise<Deployment> {
  const postgres: PostgresInstance = await startPostgres();
  const nodes: ChildServer[] = [];
  const proxies: RecordingProxy[] = [];
  const close = async () => {
    for (const p of proxies) await p.close().catch(() => undefined);
    for (const n of nodes) await stopNode(n);
    await postgres.stop();
  };
  try {
    const url = await postgres.createDatabase(`canary_${randomBytes(4).toString('hex')}`);
    await logEveryStatement(url);
    const sharedDataDir = tempDir('canary-nodes');
    const args = ['--data-dir', sharedDataDir, ...LOG];
    // Schema first, from one node alone, then the token and the second node.
    nodes.push(await startNode(url, args));
    const token = await tokenOn(url, 'alice');
    nodes.push(await startNode(url, args));
    for (const n of nodes) proxies.push(await recordingProxy(Number(new URL(n.url).port)));
    return {
      token,
      url: (device) => `http://127.0.0.1:${proxies[device === 'A' ? 0 : 1].port}`,
      keyRecord: async (workspaceId) => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          const rows = (await c.query<{ record: string | null }>('SELECT e2ee::text AS record FROM workspaces WHERE id = $1', [workspaceId])).rows;
          return rows[0]?.record ? parseKeyRecord(JSON.parse(rows[0].record)) : null;
        } finally {
          await c.end();
        }
      },
      async stopAndCapture() {
        for (const p of proxies) await p.close();
        for (const n of nodes) await stopNode(n);
        const sources: ScanSource[] = [{ name: 'pg_dump', bytes: pgDump(url) }];
        // A clean shutdown writes every page out: the files then hold all the database holds.
        await postgres.pause();
        sources.push(...folderSources(postgres.dataDir, 'postgres data'), ...folderSources(sharedDataDir, 'nodes data'));
        sources.push({ name: 'postgres log', bytes: Buffer.from(postgres.log(), 'utf8') });
        nodes.forEach((n, i) => sources.push(...outputSources(`node ${i + 1}`, n)));
        proxies.forEach((p, i) => sources.push(...trafficSources(p.connections()).map((s) => ({ ...s, name: `node ${i + 1} ${s.name}` }))));
        await postgres.stop();
        return sources;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Makes Postgres log every statement on the database with its parameters in
 * full: its log then holds all the server ever sent it, the widest view of
 * that log an operator can turn on.
 */
async function logEveryStatement(databaseUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const db = new URL(databaseUrl).pathname.slice(1);
    await c.query(`ALTER DATABASE "${db}" SET log_statement = 'all'`);
    await c.query(`ALTER DATABASE "${db}" SET log_parameter_max_length = -1`);
  } finally {
    await c.end();
  }
}

async function tokenOn(databaseUrl: string, user: string): Promise<string> {
  const cli = spawnCli(['token', 'create', '--user', user, '--database', databaseUrl]);
  const { code } = await cli.exited;
  if (code !== 0) throw new Error(`token create --database failed (${code}): ${cli.stderr.join('')}`);
  return cli.stdout.join('').trim().split('\n').pop()!.trim();
}

function pgDump(databaseUrl: string): Buffer {
  const r = spawnSync(postgresBinary('pg_dump'), ['--dbname', databaseUrl, '--no-owner'], { maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) throw new Error(`pg_dump failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr?.toString()}`);
  return r.stdout;
}

/**
 * Library entry of the Diaryx sync server: `startServer(options)` wires the
 * database, auth, storage, sync core and network edge together and returns a
 * handle with the URL and `close()`. `createToken(dataDir, user)` issues an
 * access token without a running server.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlobStore } from './attachments/blob-store';
import { collectAttachmentGarbage } from './attachments/gc';
import { AttachmentService } from './attachments/service';
import { SqliteAttachmentMeta } from './storage/sqlite-attachments';
import { AuthStore, authExtension, type AccessStore, type TokenInfo } from './auth';
import { PgAuthStore } from './auth-postgres';
import { IN_MEMORY, openDatabase } from './db';
import { describeError, ValidationError } from './errors';
import type { Extension } from './hooks';
import { SyncServer, installCrashGuard, installSignalHandlers } from './http-server';
import { createLogger } from './log';
import { resolveOptions, type ServerOptions } from './options';
import { SqliteStorage } from './storage/sqlite';
import { PostgresStorage } from './storage/postgres';
import type { StorageAdapter } from './storage/adapter';
import { NodeRelay } from './node-relay';
import { E2eeService } from './e2ee/service';
import { PgEncryptedStore } from './storage/postgres-e2ee';
import { SqliteEncryptedStore } from './storage/sqlite-e2ee';
import { SyncCore } from './sync-core';

export { DEFAULT_OPTIONS, ENV, resolveOptions, type ServerOptions } from './options';
export type { StorageAdapter, StoredDocument } from './storage/adapter';
export { SqliteStorage } from './storage/sqlite';
export { PostgresStorage } from './storage/postgres';
export { MemoryStorage } from './storage/memory';
export { createLogger, silentLogger, type Logger, type LogLevel } from './log';
export type { Extension, DocumentClient } from './hooks';
export { SyncCore } from './sync-core';

/** A running server. */
export interface RunningServer {
  /** `http://<host>:<port>`; WebSocket clients use `ws://<host>:<port>/sync2`. */
  url: string;
  /** The bound port (the chosen one when started with port 0). */
  port: number;
  /** The sync core (documents in memory), for inspection. */
  core: SyncCore;
  /** Issues a token for `user` on this server's database (works with `dataDir: ':memory:'`); SQLite only (see issueToken). */
  createToken(user: string): string;
  /** Issues a token for `user` on this server's database, SQLite or Postgres. */
  issueToken(user: string): Promise<string>;
  /** This process's id among the nodes of one database (logs, /api/status). */
  nodeId: string;
  /** Revokes a token by its id (`token list`) and closes its sockets now; returns the revoked token's user. */
  revokeToken(id: string): TokenInfo;
  /** Attachment uploads, blobs and their metadata. */
  attachments: AttachmentService;
  /** Runs one attachment garbage collection pass now, as at time `now` (it also runs every `attachmentGcIntervalMs`). */
  collectAttachmentGarbage(now?: number): Promise<void>;
  /** Resolves when the server has closed (by `close()` or a signal). */
  closed: Promise<void>;
  /** Closes sockets, unloads documents (compacting them) and closes the database. Idempotent. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts a server; options not given come from the environment, then from DEFAULT_OPTIONS. */
export async function startServer(options: Partial<ServerOptions> = {}, extensions: Extension[] = []): Promise<RunningServer> {
  const opts = resolveOptions(options);
  const logger = opts.logger ?? createLogger(opts.logLevel);
  const nodeId = crypto.randomBytes(4).toString('hex');
  const authOptions = {
    allowUsers: opts.allowUsers,
    createWorkspaces: opts.createWorkspaces,
    maxWorkspacesPerUser: opts.maxWorkspacesPerUser,
  };
  let db: ReturnType<typeof openDatabase> | null = null;
  let auth: AccessStore;
  let storage: StorageAdapter;
  let pgStorage: PostgresStorage | null = null;
  if (opts.databaseUrl !== null) {
    pgStorage = await PostgresStorage.open({ url: opts.databaseUrl });
    storage = pgStorage;
    auth = new PgAuthStore(pgStorage.pool, authOptions);
  } else {
    db = openDatabase(opts.dataDir);
    auth = new AuthStore(db, authOptions);
    storage = opts.storage ?? new SqliteStorage({ database: db });
  }
  // Encrypted workspaces: in the Postgres database, else in the server's SQLite database.
  const encryptedStore = pgStorage ? new PgEncryptedStore(pgStorage.pool) : new SqliteEncryptedStore((db ??= openDatabase(opts.dataDir)));
  // The service needs the core and the core needs the check: the hook calls it once it exists.
  let e2ee: E2eeService | null = null;
  const e2eeGate: Extension = { onAuthenticate: (p) => e2ee!.checkDocKind(p), afterLoadDocument: (p) => e2ee!.checkLoadedDoc(p.docId) };
  const core = new SyncCore({
    storage,
    logger,
    extensions: [authExtension(auth), e2eeGate, ...extensions],
    unloadDelayMs: opts.unloadDelayMs,
    compactAfterUpdates: opts.compactAfterUpdates,
    compactAfterBytes: opts.compactAfterBytes,
    maxDocBytes: opts.maxDocBytes,
    maxPendingBytesPerDoc: opts.maxPendingBytesPerDoc,
    maxUnknownDeleteRanges: opts.maxUnknownDeleteRanges,
  });
  e2ee = new E2eeService({
    store: encryptedStore,
    storage,
    core,
    logger,
    maxDocBytes: opts.maxDocBytes,
    compactAfterUpdates: opts.compactAfterUpdates,
    compactAfterBytes: opts.compactAfterBytes,
  });
  let relay: NodeRelay | null = null;
  if (pgStorage) {
    relay = new NodeRelay({ core, storage: pgStorage, logger, sweepIntervalMs: opts.sweepIntervalMs, listeners: [e2ee.hub] });
    try {
      await relay.start();
    } catch (e) {
      await pgStorage.close().catch(() => undefined);
      throw e;
    }
  }
  const database = pgStorage
    ? {
        nodeId,
        async status(): Promise<{ database: 'ok' | 'down'; listen: 'up' | 'down' }> {
          return { database: (await pgStorage.ping()) ? 'ok' : 'down', listen: relay?.listening ? 'up' : 'down' };
        },
      }
    : undefined;
  // Blobs are files under the data folder (a temporary folder for `:memory:`).
  const blobRoot = opts.dataDir === IN_MEMORY ? fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-attachments-')) : path.join(opts.dataDir, 'attachments');
  // Attachment metadata: the adapter's own, else the server's SQLite database.
  const attachmentMeta = storage.attachments ?? new SqliteAttachmentMeta((db ??= openDatabase(opts.dataDir)));
  const attachments = new AttachmentService({
    blobs: new BlobStore(blobRoot),
    meta: attachmentMeta,
    auth,
    logger,
    quotaBytes: opts.attachmentQuotaMb * 1024 * 1024,
  });
  const server = new SyncServer({ core, auth, logger, options: opts, attachments, database, e2ee });
  let gcRunning = false;
  const collectGarbage = async (now = Date.now()) => {
    if (gcRunning) return;
    gcRunning = true;
    try {
      await collectAttachmentGarbage(attachments, core, opts.attachmentGraceDays * 86_400_000, now, logger, (id) => e2ee!.isEncrypted(id));
    } catch (e) {
      logger.error('attachment collection failed', { error: describeError(e) });
    } finally {
      gcRunning = false;
    }
  };
  const gcTimer = setInterval(() => void collectGarbage(), opts.attachmentGcIntervalMs);
  gcTimer.unref();

  let closing: Promise<void> | null = null;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let uninstallSignals = () => {};
  const close = (): Promise<void> => {
    closing ??= (async () => {
      uninstallSignals();
      clearInterval(gcTimer);
      try {
        await server.close();
        await relay?.close();
        await core.close();
        if (!opts.storage || pgStorage) await storage.close();
      } finally {
        db?.close();
        if (opts.dataDir === IN_MEMORY) fs.rmSync(blobRoot, { recursive: true, force: true });
        logger.info('server closed');
        resolveClosed();
      }
    })();
    return closing;
  };

  let port: number;
  try {
    port = await server.listen();
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
  if (opts.handleSignals) {
    const removeSignals = installSignalHandlers(close, logger);
    const removeGuard = installCrashGuard(logger);
    uninstallSignals = () => {
      removeSignals();
      removeGuard();
    };
  }
  const url = `http://${urlHost(opts.host)}:${port}`;
  if (pgStorage) logger.info('listening', { url, database: redactUrl(opts.databaseUrl ?? ''), node: nodeId });
  else logger.info('listening', { url, dataDir: opts.dataDir });
  const sqliteAuth = auth instanceof AuthStore ? auth : null;
  return {
    url,
    port,
    core,
    nodeId,
    createToken: (user) => {
      if (!sqliteAuth) throw new ValidationError('createToken is for SQLite servers; use issueToken');
      return sqliteAuth.createToken(user);
    },
    issueToken: async (user) => auth.createToken(user),
    revokeToken: (id) => {
      if (!sqliteAuth) throw new ValidationError('revokeToken is for SQLite servers');
      const revoked = sqliteAuth.revokeToken(id);
      void server.closeRevoked().catch(() => undefined);
      return revoked;
    },
    attachments,
    collectAttachmentGarbage: collectGarbage,
    closed,
    close,
  };
}

/** Issues a token for `user` in the database of `dataDir` (the server may be running). Returns the plain token. */
export function createToken(dataDir: string, user: string): string {
  if (dataDir === IN_MEMORY) throw new ValidationError('createToken needs a data directory; use RunningServer.createToken for :memory:');
  const db = openDatabase(dataDir);
  try {
    return adminAuth(db).createToken(user);
  } finally {
    db.close();
  }
}

/** An AuthStore for administration (token commands), without the server's policy options. */
function adminAuth(db: ReturnType<typeof openDatabase>): AuthStore {
  return new AuthStore(db, { allowUsers: [], createWorkspaces: true, maxWorkspacesPerUser: Number.MAX_SAFE_INTEGER });
}

/** Runs `fn` on the auth store of `dataDir`'s database (the server may be running). */
export function withAuthStore<T>(dataDir: string, fn: (auth: AuthStore) => T): T {
  if (dataDir === IN_MEMORY) throw new ValidationError('token commands need a data directory');
  const db = openDatabase(dataDir);
  try {
    return fn(adminAuth(db));
  } finally {
    db.close();
  }
}

/** A database URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

/** Runs `fn` on the users/tokens/workspaces of a Postgres database (token commands with --database). */
export async function withPgAuthStore<T>(url: string, fn: (auth: PgAuthStore) => Promise<T>): Promise<T> {
  const storage = await PostgresStorage.open({ url, poolSize: 2 });
  try {
    return await fn(new PgAuthStore(storage.pool, { allowUsers: [], createWorkspaces: true, maxWorkspacesPerUser: Number.MAX_SAFE_INTEGER }));
  } finally {
    await storage.close();
  }
}

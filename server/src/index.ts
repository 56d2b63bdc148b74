/**
 * Library entry of the Diaryx sync server: `startServer(options)` wires the
 * database, auth, storage, sync core and network edge together and returns a
 * handle with the URL and `close()`. `createToken(dataDir, user)` issues an
 * access token without a running server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlobStore } from './attachments/blob-store';
import { collectAttachmentGarbage } from './attachments/gc';
import { AttachmentService } from './attachments/service';
import { SqliteAttachmentMeta } from './storage/sqlite-attachments';
import { AuthStore, authExtension, type TokenInfo } from './auth';
import { IN_MEMORY, openDatabase } from './db';
import { describeError, ValidationError } from './errors';
import type { Extension } from './hooks';
import { SyncServer, installCrashGuard, installSignalHandlers } from './http-server';
import { createLogger } from './log';
import { resolveOptions, type ServerOptions } from './options';
import { SqliteStorage } from './storage/sqlite';
import { SyncCore } from './sync-core';

export { DEFAULT_OPTIONS, ENV, resolveOptions, type ServerOptions } from './options';
export type { StorageAdapter, StoredDocument } from './storage/adapter';
export { SqliteStorage } from './storage/sqlite';
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
  /** Issues a token for `user` on this server's database (works with `dataDir: ':memory:'`). */
  createToken(user: string): string;
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
  const db = openDatabase(opts.dataDir);
  const auth = new AuthStore(db, {
    allowUsers: opts.allowUsers,
    createWorkspaces: opts.createWorkspaces,
    maxWorkspacesPerUser: opts.maxWorkspacesPerUser,
  });
  const storage = opts.storage ?? new SqliteStorage({ database: db });
  const core = new SyncCore({
    storage,
    logger,
    extensions: [authExtension(auth), ...extensions],
    unloadDelayMs: opts.unloadDelayMs,
    compactAfterUpdates: opts.compactAfterUpdates,
    compactAfterBytes: opts.compactAfterBytes,
    maxDocBytes: opts.maxDocBytes,
    maxPendingBytesPerDoc: opts.maxPendingBytesPerDoc,
  });
  // Blobs are files under the data folder (a temporary folder for `:memory:`).
  const blobRoot = opts.dataDir === IN_MEMORY ? fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-attachments-')) : path.join(opts.dataDir, 'attachments');
  const attachments = new AttachmentService({
    blobs: new BlobStore(blobRoot),
    meta: storage.attachments ?? new SqliteAttachmentMeta(db),
    auth,
    logger,
    quotaBytes: opts.attachmentQuotaMb * 1024 * 1024,
  });
  const server = new SyncServer({ core, auth, logger, options: opts, attachments });
  let gcRunning = false;
  const collectGarbage = async (now = Date.now()) => {
    if (gcRunning) return;
    gcRunning = true;
    try {
      await collectAttachmentGarbage(attachments, core, opts.attachmentGraceDays * 86_400_000, now, logger);
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
        await core.close();
        if (!opts.storage) await storage.close();
      } finally {
        db.close();
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
  logger.info('listening', { url, dataDir: opts.dataDir });
  return {
    url,
    port,
    core,
    createToken: (user) => auth.createToken(user),
    revokeToken: (id) => {
      const revoked = auth.revokeToken(id);
      server.closeRevoked();
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

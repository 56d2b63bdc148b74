/**
 * Users, tokens and workspace ownership, in the server's SQLite database.
 *
 * - Tokens are random (32 bytes, base64url, prefixed `dxs_`) and stored only as
 *   their SHA-256 hex digest; the plain token is shown once, at creation.
 * - `allowUsers`, when non-empty, is the list of users who may use the server
 *   at all; a valid token of another user is treated like an invalid one.
 * - A workspace is owned by one user. The first user who opens an unknown
 *   workspace id becomes its owner (unless `createWorkspaces` is false); from
 *   then on only the owner may open it. `POST /api/workspaces` creates one with
 *   a fresh UUID. Ownership is matched by id only (see README: the original also
 *   matched by name, which lets two users reach the same storage key).
 * - A user owns at most `maxWorkspacesPerUser` workspaces, and a new id that
 *   differs from an existing one only by case or surrounding spaces is refused
 *   (WorkspaceRefusedError, whose message the client is shown): otherwise
 *   anyone could squat thousands of ids, and `Notes` / `notes ` would be two
 *   workspaces that a person takes for one.
 * - A token is named by its id, the first 16 hex digits of its hash (never the
 *   token itself): `token list` shows ids, `token revoke ID` deletes one.
 */
import crypto from 'node:crypto';
import { AccessDeniedError, ValidationError, WorkspaceExistsError, WorkspaceRefusedError } from './errors';
import type { SqliteDatabase } from './db';
import type { Extension } from './hooks';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES users (name),
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workspaces (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL REFERENCES users (name),
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS workspaces_by_owner ON workspaces (owner, name);
`;

/** Added later: the folded id (trimmed, NFC, lower case), to refuse look-alike ids. */
const MIGRATE_FOLDED = `
ALTER TABLE workspaces ADD COLUMN folded TEXT;
`;
const FOLDED_INDEX = 'CREATE INDEX IF NOT EXISTS workspaces_by_folded ON workspaces (folded)';

const INSERT_USER = 'INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING';
const INSERT_TOKEN = 'INSERT INTO tokens (hash, user, created_at) VALUES (?, ?, ?)';
const SELECT_TOKEN_USER = 'SELECT user FROM tokens WHERE hash = ?';
const DELETE_USER_TOKENS = 'DELETE FROM tokens WHERE user = ?';
const SELECT_WORKSPACE = 'SELECT id, owner, name FROM workspaces WHERE id = ?';
const SELECT_WORKSPACE_BY_NAME = 'SELECT id FROM workspaces WHERE owner = ? AND name = ?';
const INSERT_WORKSPACE =
  'INSERT INTO workspaces (id, owner, name, created_at, folded) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING';
const LIST_WORKSPACES = 'SELECT id, name FROM workspaces WHERE owner = ? ORDER BY created_at, id';
const COUNT_WORKSPACES = 'SELECT count(*) AS n FROM workspaces WHERE owner = ?';
const SELECT_FOLDED = 'SELECT id FROM workspaces WHERE folded = ? LIMIT 1';
const LIST_TOKENS = 'SELECT hash, user, created_at FROM tokens WHERE user = ? ORDER BY created_at, hash';
const SELECT_TOKEN_BY_ID = 'SELECT hash, user, created_at FROM tokens WHERE substr(hash, 1, 16) = ?';
const DELETE_TOKEN = 'DELETE FROM tokens WHERE hash = ?';

/** Length of a token id: a prefix of the token's SHA-256 hex digest. */
export const TOKEN_ID_LENGTH = 16;

/** Prefix of every token this server issues. */
export const TOKEN_PREFIX = 'dxs_';
export const TOKEN_BYTES = 32;
const MAX_USER_NAME = 128;
const MAX_WORKSPACE_ID_BYTES = 200;
export const MAX_WORKSPACE_NAME = 200;
export const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** A workspace as the HTTP API lists it. */
export interface WorkspaceInfo {
  id: string;
  name: string;
}

/** A token as `token list` shows it. */
export interface TokenInfo {
  /** First 16 hex digits of the token's SHA-256; names the token in `token revoke`. */
  id: string;
  user: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** Auth settings. */
export interface AuthOptions {
  /** Users allowed to connect; empty means every user with a valid token. */
  allowUsers: readonly string[];
  /** Whether opening an unknown workspace id creates it for the caller. */
  createWorkspaces: boolean;
  /** Workspaces one user may own (created on first use or with POST /api/workspaces); no limit when absent. */
  maxWorkspacesPerUser?: number;
}

/** A value or a promise of it: SQLite answers at once, Postgres later. */
export type Awaitable<T> = T | Promise<T>;

/** Users, tokens and workspace ownership as the server uses them (AuthStore on SQLite, PgAuthStore on Postgres). */
export interface AccessStore {
  createToken(user: string): Awaitable<string>;
  revokeTokens(user: string): Awaitable<number>;
  listTokens(user: string): Awaitable<TokenInfo[]>;
  revokeToken(id: string): Awaitable<TokenInfo>;
  authenticate(token: string | null | undefined): Awaitable<string>;
  authorizeWorkspace(user: string, id: string): Awaitable<void>;
  ownsWorkspace(user: string, id: string): Awaitable<boolean>;
  listWorkspaces(user: string): Awaitable<WorkspaceInfo[]>;
  createWorkspace(user: string, name: string): Awaitable<WorkspaceInfo>;
}

/** The form two workspace ids share when a person would take them for the same one. */
export function foldWorkspaceId(id: string): string {
  return id.normalize('NFC').trim().toLowerCase();
}

/** SHA-256 hex of a token, the form stored in the database. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Throws ValidationError unless `name` is a usable user name. */
export function validateUserName(name: string): void {
  if (name.length === 0 || name.length > MAX_USER_NAME || CONTROL_CHARS.test(name) || name.trim() !== name) {
    throw new ValidationError(`Invalid user name: must be 1-${MAX_USER_NAME} characters without control characters or surrounding spaces`);
  }
}

/** Whether `id` can be a workspace id: non-empty, no `/`, no control characters, at most 200 UTF-8 bytes. */
export function isValidWorkspaceId(id: string): boolean {
  return id.length > 0 && !id.includes('/') && !CONTROL_CHARS.test(id) && Buffer.byteLength(id, 'utf8') <= MAX_WORKSPACE_ID_BYTES;
}

/** Users, tokens and workspace ownership over an open database. */
export class AuthStore implements AccessStore {
  private readonly stmt;
  private readonly createTokenTx: (user: string, hash: string) => void;
  private readonly claimTx: (id: string, user: string) => string;

  constructor(
    db: SqliteDatabase,
    private readonly options: AuthOptions,
  ) {
    db.exec(SCHEMA);
    const columns = db.prepare('PRAGMA table_info(workspaces)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'folded')) {
      db.transaction(() => {
        db.exec(MIGRATE_FOLDED);
        const update = db.prepare<[string, string]>('UPDATE workspaces SET folded = ? WHERE id = ?');
        for (const { id } of db.prepare('SELECT id FROM workspaces').all() as { id: string }[]) update.run(foldWorkspaceId(id), id);
      })();
    }
    db.exec(FOLDED_INDEX);
    this.stmt = {
      insertUser: db.prepare<[string, number]>(INSERT_USER),
      insertToken: db.prepare<[string, string, number]>(INSERT_TOKEN),
      selectTokenUser: db.prepare<[string], { user: string }>(SELECT_TOKEN_USER),
      deleteUserTokens: db.prepare<[string]>(DELETE_USER_TOKENS),
      selectWorkspace: db.prepare<[string], { id: string; owner: string; name: string }>(SELECT_WORKSPACE),
      selectWorkspaceByName: db.prepare<[string, string], { id: string }>(SELECT_WORKSPACE_BY_NAME),
      insertWorkspace: db.prepare<[string, string, string, number, string]>(INSERT_WORKSPACE),
      listWorkspaces: db.prepare<[string], WorkspaceInfo>(LIST_WORKSPACES),
      countWorkspaces: db.prepare<[string], { n: number }>(COUNT_WORKSPACES),
      selectFolded: db.prepare<[string], { id: string }>(SELECT_FOLDED),
      listTokens: db.prepare<[string], { hash: string; user: string; created_at: number }>(LIST_TOKENS),
      selectTokenById: db.prepare<[string], { hash: string; user: string; created_at: number }>(SELECT_TOKEN_BY_ID),
      deleteToken: db.prepare<[string]>(DELETE_TOKEN),
    };
    this.createTokenTx = db.transaction((user: string, hash: string) => {
      const now = Date.now();
      this.stmt.insertUser.run(user, now);
      this.stmt.insertToken.run(hash, user, now);
    });
    this.claimTx = db.transaction((id: string, user: string) => {
      const existing = this.stmt.selectWorkspace.get(id);
      if (existing) return existing.owner;
      this.checkNewWorkspace(user, id);
      this.stmt.insertUser.run(user, Date.now());
      this.stmt.insertWorkspace.run(id, user, id, Date.now(), foldWorkspaceId(id));
      return user;
    });
  }

  /** Creates the user if needed and issues a new token for it; returns the plain token (shown once). */
  createToken(user: string): string {
    validateUserName(user);
    const token = TOKEN_PREFIX + crypto.randomBytes(TOKEN_BYTES).toString('base64url');
    this.createTokenTx(user, hashToken(token));
    return token;
  }

  /** Deletes every token of a user; returns how many were revoked. */
  revokeTokens(user: string): number {
    return this.stmt.deleteUserTokens.run(user).changes;
  }

  /** The tokens of a user, oldest first (ids only; the tokens themselves are not stored). */
  listTokens(user: string): TokenInfo[] {
    return this.stmt.listTokens.all(user).map((r) => ({ id: r.hash.slice(0, TOKEN_ID_LENGTH), user: r.user, createdAt: r.created_at }));
  }

  /** Deletes the token with this id; throws ValidationError when there is none. */
  revokeToken(id: string): TokenInfo {
    const key = id.trim().toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(key)) throw new ValidationError(`Invalid token id "${id}": expected the 16 hex digits shown by token list`);
    const rows = this.stmt.selectTokenById.all(key);
    if (rows.length === 0) throw new ValidationError(`No token with id ${key}`);
    // Two tokens sharing 64 bits of their hash: practically impossible, but never revoke the wrong one.
    if (rows.length > 1) throw new ValidationError(`Token id ${key} is ambiguous; revoke all of the user's tokens instead`);
    this.stmt.deleteToken.run(rows[0].hash);
    return { id: key, user: rows[0].user, createdAt: rows[0].created_at };
  }

  /** Throws WorkspaceRefusedError unless `user` may create a workspace with this id. */
  private checkNewWorkspace(user: string, id: string): void {
    const maxWorkspacesPerUser = this.options.maxWorkspacesPerUser ?? Number.POSITIVE_INFINITY;
    if (this.stmt.countWorkspaces.get(user)!.n >= maxWorkspacesPerUser) {
      throw new WorkspaceRefusedError(`Workspace quota reached: user ${user} already owns ${maxWorkspacesPerUser} workspaces`, id, user);
    }
    if (id.trim() !== id) throw new WorkspaceRefusedError(`Workspace id ${JSON.stringify(id)} has surrounding spaces`, id, user);
    const twin = this.stmt.selectFolded.get(foldWorkspaceId(id));
    if (twin && twin.id !== id) {
      throw new WorkspaceRefusedError(`Workspace id ${JSON.stringify(id)} differs from an existing workspace id only by case or spaces`, id, user);
    }
  }

  /** The user a token belongs to, if the token is valid and the user is allowed. Throws AccessDeniedError otherwise. */
  authenticate(token: string | null | undefined): string {
    if (!token) throw new AccessDeniedError('no-token');
    const row = this.stmt.selectTokenUser.get(hashToken(token));
    if (!row) throw new AccessDeniedError('invalid-token');
    if (this.options.allowUsers.length > 0 && !this.options.allowUsers.includes(row.user)) {
      throw new AccessDeniedError('not-allowed', undefined, row.user);
    }
    return row.user;
  }

  /**
   * Checks that `user` may open workspace `id`, creating it for the user on first
   * use when `createWorkspaces` is on. Throws AccessDeniedError otherwise.
   */
  authorizeWorkspace(user: string, id: string): void {
    if (!isValidWorkspaceId(id)) throw new AccessDeniedError('no-workspace', id, user);
    const existing = this.stmt.selectWorkspace.get(id);
    if (existing) {
      if (existing.owner !== user) throw new AccessDeniedError('not-owner', id, user);
      return;
    }
    if (!this.options.createWorkspaces) throw new AccessDeniedError('no-workspace', id, user);
    if (this.claimTx(id, user) !== user) throw new AccessDeniedError('not-owner', id, user);
  }

  /** Whether `user` owns workspace `id` (no creation). */
  ownsWorkspace(user: string, id: string): boolean {
    return this.stmt.selectWorkspace.get(id)?.owner === user;
  }

  /** The workspaces `user` owns, oldest first. */
  listWorkspaces(user: string): WorkspaceInfo[] {
    return this.stmt.listWorkspaces.all(user).map((w) => ({ id: w.id, name: w.name }));
  }

  /** Creates a workspace with a new UUID; throws WorkspaceExistsError when the user already has one with that name. */
  createWorkspace(user: string, name: string): WorkspaceInfo {
    if (name.length === 0 || name.length > MAX_WORKSPACE_NAME || CONTROL_CHARS.test(name)) {
      throw new ValidationError(`Invalid workspace name: must be 1-${MAX_WORKSPACE_NAME} characters without control characters`);
    }
    if (this.stmt.selectWorkspaceByName.get(user, name)) throw new WorkspaceExistsError(user, name);
    const id = crypto.randomUUID();
    this.checkNewWorkspace(user, id);
    this.stmt.insertUser.run(user, Date.now());
    this.stmt.insertWorkspace.run(id, user, name, Date.now(), foldWorkspaceId(id));
    return { id, name };
  }
}

/** The hook that lets a connection open a doc only with a valid token of the workspace's owner. */
export function authExtension(auth: AccessStore): Extension {
  return {
    async onAuthenticate({ token, workspaceId }) {
      const user = await auth.authenticate(token);
      await auth.authorizeWorkspace(user, workspaceId);
    },
  };
}

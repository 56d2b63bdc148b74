/**
 * PgAuthStore: users, tokens and workspace ownership in the Postgres database,
 * with the rules of AuthStore (auth.ts). Every node reads the same tables, so a
 * token or workspace created through one node works on all. Racing first opens
 * of one workspace id: `INSERT ... ON CONFLICT DO NOTHING`, then the owner is
 * read back, so the nodes agree on one owner.
 */
import crypto from 'node:crypto';
import type pg from 'pg';
import {
  CONTROL_CHARS,
  MAX_WORKSPACE_NAME,
  TOKEN_BYTES,
  TOKEN_ID_LENGTH,
  TOKEN_PREFIX,
  foldWorkspaceId,
  hashToken,
  isValidWorkspaceId,
  validateUserName,
  type AccessStore,
  type AuthOptions,
  type TokenInfo,
  type WorkspaceInfo,
} from './auth';
import { AccessDeniedError, ValidationError, WorkspaceExistsError, WorkspaceRefusedError } from './errors';

const INSERT_USER = 'INSERT INTO users (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING';
const INSERT_WORKSPACE = 'INSERT INTO workspaces (id, owner, name, created_at, folded) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING';

export class PgAuthStore implements AccessStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: AuthOptions,
  ) {}

  async createToken(user: string): Promise<string> {
    validateUserName(user);
    const token = TOKEN_PREFIX + crypto.randomBytes(TOKEN_BYTES).toString('base64url');
    await this.tx(async (c) => {
      const now = Date.now();
      await c.query(INSERT_USER, [user, now]);
      await c.query('INSERT INTO tokens (hash, user_name, created_at) VALUES ($1, $2, $3)', [hashToken(token), user, now]);
    });
    return token;
  }

  async revokeTokens(user: string): Promise<number> {
    return (await this.pool.query('DELETE FROM tokens WHERE user_name = $1', [user])).rowCount ?? 0;
  }

  async listTokens(user: string): Promise<TokenInfo[]> {
    const r = await this.pool.query<{ hash: string; user_name: string; created_at: string }>(
      'SELECT hash, user_name, created_at FROM tokens WHERE user_name = $1 ORDER BY created_at, hash',
      [user],
    );
    return r.rows.map((row) => ({ id: row.hash.slice(0, TOKEN_ID_LENGTH), user: row.user_name, createdAt: Number(row.created_at) }));
  }

  async revokeToken(id: string): Promise<TokenInfo> {
    const key = id.trim().toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(key)) throw new ValidationError(`Invalid token id "${id}": expected the 16 hex digits shown by token list`);
    const rows = (
      await this.pool.query<{ hash: string; user_name: string; created_at: string }>(
        'SELECT hash, user_name, created_at FROM tokens WHERE left(hash, 16) = $1',
        [key],
      )
    ).rows;
    if (rows.length === 0) throw new ValidationError(`No token with id ${key}`);
    if (rows.length > 1) throw new ValidationError(`Token id ${key} is ambiguous; revoke all of the user's tokens instead`);
    await this.pool.query('DELETE FROM tokens WHERE hash = $1', [rows[0].hash]);
    return { id: key, user: rows[0].user_name, createdAt: Number(rows[0].created_at) };
  }

  async authenticate(token: string | null | undefined): Promise<string> {
    if (!token) throw new AccessDeniedError('no-token');
    const r = await this.pool.query<{ user_name: string }>('SELECT user_name FROM tokens WHERE hash = $1', [hashToken(token)]);
    const user = r.rows[0]?.user_name;
    if (user === undefined) throw new AccessDeniedError('invalid-token');
    if (this.options.allowUsers.length > 0 && !this.options.allowUsers.includes(user)) throw new AccessDeniedError('not-allowed', undefined, user);
    return user;
  }

  async authorizeWorkspace(user: string, id: string): Promise<void> {
    if (!isValidWorkspaceId(id)) throw new AccessDeniedError('no-workspace', id, user);
    let owner = await this.ownerOf(id);
    if (owner === null) {
      if (!this.options.createWorkspaces) throw new AccessDeniedError('no-workspace', id, user);
      await this.checkNewWorkspace(this.pool, user, id);
      await this.tx(async (c) => {
        await c.query(INSERT_USER, [user, Date.now()]);
        await c.query(INSERT_WORKSPACE, [id, user, id, Date.now(), foldWorkspaceId(id)]);
      });
      owner = await this.ownerOf(id);
    }
    if (owner !== user) throw new AccessDeniedError('not-owner', id, user);
  }

  async ownsWorkspace(user: string, id: string): Promise<boolean> {
    return (await this.ownerOf(id)) === user;
  }

  async listWorkspaces(user: string): Promise<WorkspaceInfo[]> {
    const r = await this.pool.query<WorkspaceInfo>('SELECT id, name FROM workspaces WHERE owner = $1 ORDER BY created_at, id', [user]);
    return r.rows.map((w) => ({ id: w.id, name: w.name }));
  }

  async createWorkspace(user: string, name: string): Promise<WorkspaceInfo> {
    if (name.length === 0 || name.length > MAX_WORKSPACE_NAME || CONTROL_CHARS.test(name)) {
      throw new ValidationError(`Invalid workspace name: must be 1-${MAX_WORKSPACE_NAME} characters without control characters`);
    }
    if ((await this.pool.query('SELECT 1 FROM workspaces WHERE owner = $1 AND name = $2', [user, name])).rowCount) throw new WorkspaceExistsError(user, name);
    const id = crypto.randomUUID();
    await this.checkNewWorkspace(this.pool, user, id);
    await this.tx(async (c) => {
      await c.query(INSERT_USER, [user, Date.now()]);
      await c.query(INSERT_WORKSPACE, [id, user, name, Date.now(), foldWorkspaceId(id)]);
    });
    return { id, name };
  }

  private async ownerOf(id: string): Promise<string | null> {
    const r = await this.pool.query<{ owner: string }>('SELECT owner FROM workspaces WHERE id = $1', [id]);
    return r.rows[0]?.owner ?? null;
  }

  private async checkNewWorkspace(q: pg.Pool, user: string, id: string): Promise<void> {
    const max = this.options.maxWorkspacesPerUser ?? Number.POSITIVE_INFINITY;
    const count = Number((await q.query<{ n: string }>('SELECT count(*) AS n FROM workspaces WHERE owner = $1', [user])).rows[0].n);
    if (count >= max) throw new WorkspaceRefusedError(`Workspace quota reached: user ${user} already owns ${max} workspaces`, id, user);
    if (id.trim() !== id) throw new WorkspaceRefusedError(`Workspace id ${JSON.stringify(id)} has surrounding spaces`, id, user);
    const twin = (await q.query<{ id: string }>('SELECT id FROM workspaces WHERE folded = $1 LIMIT 1', [foldWorkspaceId(id)])).rows[0];
    if (twin && twin.id !== id) {
      throw new WorkspaceRefusedError(`Workspace id ${JSON.stringify(id)} differs from an existing workspace id only by case or spaces`, id, user);
    }
  }

  private async tx(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    const c = await this.pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      await fn(c);
      await c.query('COMMIT');
    } catch (e) {
      broken = true;
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release(broken);
    }
  }
}

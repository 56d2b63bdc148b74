import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthStore, hashToken, isValidWorkspaceId } from './auth';
import { openDatabase, type SqliteDatabase } from './db';

let db: SqliteDatabase;
beforeEach(() => {
  db = openDatabase(':memory:');
});
afterEach(() => db.close());

describe('AuthStore', () => {
  it('issues random tokens and stores only their hash', () => {
    const auth = new AuthStore(db, { allowUsers: [], createWorkspaces: true });
    const t1 = auth.createToken('alice');
    const t2 = auth.createToken('alice');
    expect(t1).not.toBe(t2);
    expect(auth.authenticate(t1)).toBe('alice');
    const stored = db.prepare('SELECT hash FROM tokens').all() as { hash: string }[];
    expect(stored.map((r) => r.hash).sort()).toEqual([hashToken(t1), hashToken(t2)].sort());
    expect(JSON.stringify(db.prepare('SELECT * FROM tokens').all())).not.toContain(t1);
    expect(() => auth.authenticate(null)).toThrow(/no-token/);
    expect(() => auth.authenticate('dxs_x')).toThrow(/invalid-token/);
    expect(auth.revokeTokens('alice')).toBe(2);
    expect(() => auth.authenticate(t1)).toThrow(/invalid-token/);
  });

  it('gives an unknown workspace to its first user only', () => {
    const auth = new AuthStore(db, { allowUsers: [], createWorkspaces: true });
    auth.authorizeWorkspace('alice', 'ws1');
    auth.authorizeWorkspace('alice', 'ws1');
    expect(() => auth.authorizeWorkspace('bob', 'ws1')).toThrow(/not-owner/);
    expect(auth.listWorkspaces('alice')).toEqual([{ id: 'ws1', name: 'ws1' }]);
    expect(auth.ownsWorkspace('bob', 'ws1')).toBe(false);
  });

  it('creates workspaces only explicitly when createWorkspaces is off', () => {
    const auth = new AuthStore(db, { allowUsers: [], createWorkspaces: false });
    expect(() => auth.authorizeWorkspace('alice', 'ws1')).toThrow(/no-workspace/);
    const w = auth.createWorkspace('alice', 'Journal');
    auth.authorizeWorkspace('alice', w.id);
    expect(() => auth.createWorkspace('alice', 'Journal')).toThrow(/already exists/);
    expect(auth.createWorkspace('bob', 'Journal').name).toBe('Journal');
  });

  it('applies the allow list', () => {
    const auth = new AuthStore(db, { allowUsers: ['alice'], createWorkspaces: true });
    const bob = auth.createToken('bob');
    expect(() => auth.authenticate(bob)).toThrow(/not-allowed/);
  });

  it('validates names and workspace ids', () => {
    const auth = new AuthStore(db, { allowUsers: [], createWorkspaces: true });
    expect(() => auth.createToken('')).toThrow(/Invalid user name/);
    expect(() => auth.createToken(' a')).toThrow(/Invalid user name/);
    expect(isValidWorkspaceId('a/b')).toBe(false);
    expect(isValidWorkspaceId('x'.repeat(201))).toBe(false);
    expect(isValidWorkspaceId('3f0e0a4c-0000-4000-8000-000000000000')).toBe(true);
  });
});

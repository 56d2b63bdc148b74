import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, LIMIT_OPTIONS, optionsFromEnv, parseBoolean, parseOriginList, resolveOptions } from './options';

describe('resolveOptions', () => {
  it('uses the typed defaults without env or options', () => {
    const o = resolveOptions({}, {});
    expect(o).toMatchObject({ host: '127.0.0.1', port: 3030, dataDir: './diaryx-server-data', allowUsers: [], createWorkspaces: true });
    expect(o.maxMessageBytes).toBe(16 * 1024 * 1024);
    expect(o.allowUsers).not.toBe(DEFAULT_OPTIONS.allowUsers);
  });

  it('reads DIARYX_SYNC_* variables, explicit options win, undefined options are ignored', () => {
    const env = {
      DIARYX_SYNC_HOST: '0.0.0.0',
      DIARYX_SYNC_PORT: '4000',
      DIARYX_SYNC_DATA_DIR: '/tmp/x',
      DIARYX_SYNC_ALLOW_USERS: 'alice, bob,,',
      DIARYX_SYNC_CREATE_WORKSPACES: 'false',
    };
    expect(optionsFromEnv(env)).toEqual({ host: '0.0.0.0', port: 4000, dataDir: '/tmp/x', allowUsers: ['alice', 'bob'], createWorkspaces: false });
    const o = resolveOptions({ port: 0, host: undefined }, env);
    expect(o.port).toBe(0);
    expect(o.host).toBe('0.0.0.0');
  });

  it('rejects invalid values with a message naming the source', () => {
    expect(() => optionsFromEnv({ DIARYX_SYNC_PORT: '70000' })).toThrow(/DIARYX_SYNC_PORT: invalid port/);
    expect(() => optionsFromEnv({ DIARYX_SYNC_CREATE_WORKSPACES: 'maybe' })).toThrow(/expected true or false/);
    expect(() => resolveOptions({ maxMessageBytes: 0 }, {})).toThrow(/maxMessageBytes/);
    expect(parseBoolean(' YES ', 'x')).toBe(true);
  });
});

describe('limit options', () => {
  it('are read from their environment variables and documented in the README', () => {
    const readme = fs.readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const spec of LIMIT_OPTIONS) {
      expect(optionsFromEnv({ [spec.env]: '7' })[spec.key]).toBe(7);
      expect(() => optionsFromEnv({ [spec.env]: '0' })).toThrow(new RegExp(`${spec.env}: expected a positive integer`));
      expect(readme, spec.flag).toContain(`\`${spec.flag}\``);
      expect(readme, spec.env).toContain(`\`${spec.env}\``);
      expect(DEFAULT_OPTIONS[spec.key]).toBeGreaterThan(0);
    }
    expect(readme).toContain('`DIARYX_SYNC_CORS_ORIGINS`');
  });

  it('parses CORS origins', () => {
    expect(parseOriginList('https://app.example, http://localhost:5173,*', 'x')).toEqual(['https://app.example', 'http://localhost:5173', '*']);
    expect(() => parseOriginList('https://app.example/path', 'x')).toThrow(/not an origin/);
    expect(() => parseOriginList('app.example', 'x')).toThrow(/not an origin/);
  });
});

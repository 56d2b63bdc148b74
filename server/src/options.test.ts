import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, optionsFromEnv, parseBoolean, resolveOptions } from './options';

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

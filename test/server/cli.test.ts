/**
 * The server CLI as a standalone process: `serve` prints where it listens,
 * takes flags and DIARYX_SYNC_* variables, shuts down cleanly on SIGTERM and
 * SIGINT; `token create` prints a working token as its last line.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TestClient } from './helpers/client';
import { spawnCli, startChildServer, type ChildServer } from './helpers/child';
import { waitFor } from './helpers/wait';
import { useCleanup } from './helpers/cleanup';

const cleanup = useCleanup();

const dataDir = () => cleanup.tempDataDir();

function track(child: ChildServer): ChildServer {
  cleanup.push(() => void child.proc.kill('SIGKILL'));
  return child;
}

async function createTokenCli(dir: string, user: string): Promise<string> {
  const run = spawnCli(['token', 'create', '--user', user, '--data-dir', dir]);
  expect((await run.exited).code).toBe(0);
  const lines = run.stdout.join('').trim().split('\n');
  return lines[lines.length - 1];
}

describe('serve', () => {
  it('prints one listening line with the chosen port, serves a token from `token create`, and stops on SIGTERM', async () => {
    const dir = dataDir();
    const child = track(await startChildServer(dir));
    const out = child.stdout.join('');
    expect(out).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(child.url).not.toMatch(/:0$/);
    expect(await (await fetch(`${child.url}/health`)).text()).toBe('OK');

    const token = await createTokenCli(dir, 'alice');
    expect(token).toMatch(/^dxs_[A-Za-z0-9_-]{43}$/);
    const c = await TestClient.connect(child.wsUrl, token);
    c.sendStep1('body:ws/a.md');
    await waitFor(() => c.frames.some((f) => f.subtype === 1), 'synced with the CLI token');
    child.proc.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    await waitFor(() => c.closeCode !== null, 'client closed');
    expect(c.closeCode).toBe(1001);
    expect(child.stderr.join('')).not.toContain(token);
  });

  it('takes its settings from DIARYX_SYNC_* variables, flags winning', async () => {
    const dir = dataDir();
    const token = await createTokenCli(dir, 'bob');
    const child = spawnCli(['serve', '--port', '0', '--log-level', 'warn'], {
      DIARYX_SYNC_DATA_DIR: dir,
      DIARYX_SYNC_PORT: '1',
      DIARYX_SYNC_HOST: '127.0.0.1',
      DIARYX_SYNC_ALLOW_USERS: 'alice',
      DIARYX_SYNC_CREATE_WORKSPACES: 'false',
    });
    cleanup.push(() => void child.proc.kill('SIGKILL'));
    const url = (await waitFor(() => /listening on (\S+)/.exec(child.stdout.join('')), 'listening'))[1];
    // bob is not on the allow list: HTTP says 401.
    const res = await fetch(`${url}/api/workspaces`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(fs.existsSync(`${dir}/diaryx-sync.db`)).toBe(true);
    child.proc.kill('SIGINT');
    expect((await child.exited).code).toBe(0);
  });

  it('fails with a readable message for bad flags', async () => {
    const run = spawnCli(['serve', '--port', 'abc']);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr.join('')).toContain('invalid port "abc"');
    const tok = spawnCli(['token', 'create', '--user', ' ', '--data-dir', dataDir()]);
    expect((await tok.exited).code).toBe(2);
    expect(tok.stderr.join('')).toContain('Invalid user name');
  });
});

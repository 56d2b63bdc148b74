/**
 * The `diaryx-sync sync --once` command as a user runs it (a child process of
 * `bin/diaryx-sync.mjs`): it exits 0 once the folder and the server hold the
 * same state, and a second device's `--once` run gets the files.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ROOT,
  cleanupTemp,
  createToken,
  entryText,
  folderSnapshot,
  startServerProcess,
  tempDir,
  writeFile,
  type ServerProcess,
} from './helpers';

let server: ServerProcess;
let token: string;

beforeAll(async () => {
  const dataDir = tempDir('server');
  token = await createToken(dataDir, 'alice');
  server = await startServerProcess(dataDir);
});
afterAll(async () => {
  await server?.stop();
  cleanupTemp();
});

function syncOnce(dir: string, workspaceId: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'diaryx-sync.mjs'), 'sync', '--dir', dir, '--server', server.url, '--token', token, '--workspace-id', workspaceId, '--once'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => proc.once('exit', (code) => resolve({ code, stdout, stderr })));
}

it('sync --once exits 0 when in sync, and a second device gets the files', async () => {
  const first = tempDir('first');
  writeFile(first, 'README.md', entryText({ title: 'My Journal', contents: ['[Day One](/days/day-one.md)'], body: '\n# My Journal\n' }));
  writeFile(first, 'days/day-one.md', entryText({ title: 'Day One', partOf: '[README](/README.md)', body: '\nFirst day.\n' }));
  writeFile(first, 'notes/todo.md', entryText({ title: 'Todo', extra: { tags: '[a, b]' }, body: '\n- [ ] one\n' }));
  const before = folderSnapshot(first);

  const one = await syncOnce(first, 'ws-cli');
  expect(one.stderr).not.toMatch(/error/i);
  expect(one.code).toBe(0);
  expect(one.stdout).toContain(`in sync: ${first} <-> ${server.url} workspace ws-cli`);
  expect(folderSnapshot(first)).toEqual(before);

  const second = tempDir('second');
  const two = await syncOnce(second, 'ws-cli');
  expect(two.code).toBe(0);
  expect(two.stdout).toContain('in sync');
  expect(folderSnapshot(second)).toEqual(before);

  // A change made on the second device reaches the first with the next run.
  writeFile(second, 'days/day-two.md', entryText({ title: 'Day Two', partOf: '[README](/README.md)', body: '\nSecond day.\n' }));
  expect((await syncOnce(second, 'ws-cli')).code).toBe(0);
  expect((await syncOnce(first, 'ws-cli')).code).toBe(0);
  expect(folderSnapshot(first)).toEqual(folderSnapshot(second));
  expect(Object.keys(folderSnapshot(first))).toContain('days/day-two.md');
});

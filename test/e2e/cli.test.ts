/**
 * The `diaryx-sync sync --once` command as a user runs it (a child process of
 * `bin/diaryx-sync.mjs`): it exits 0 once the folder and the server hold the
 * same state, and a second device's `--once` run gets the files.
 */
import { expect, it } from 'vitest';
import { useCliServer } from './cli-helpers';
import { entryText, folderSnapshot, tempDir, writeFile } from './helpers';

const server = useCliServer();
const syncOnce = (dir: string, workspaceId: string) => server.syncOnce(dir, workspaceId);

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

/**
 * The status bar (GetSyncStatus) shows an error reported outside the sync
 * session, here a file from the server that cannot be written to the folder:
 * two devices over a real server process, the receiving one with a folder
 * where the file's path is taken by a directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { e2eSuite, entryText, waitFor, writeFile } from '../e2e/helpers';

const suite = e2eSuite();

interface Status {
  state: string;
  label: string;
  detail: string | null;
}

describe('GetSyncStatus', () => {
  it('says error, not synced, after a file from the server could not be written', async () => {
    const a = await suite.device('a', 'ws-status');
    const b = await suite.device('b', 'ws-status');
    await Promise.all([a.job.waitUntilSynced(20_000), b.job.waitUntilSynced(20_000)]);
    const status = async () => (await b.job.host.plugin.command('GetSyncStatus', {})).data as Status;
    expect((await status()).state).toBe('synced');

    // On b, the path is a directory: writing the file there fails.
    fs.mkdirSync(path.join(b.dir, 'taken.md'));
    writeFile(a.dir, 'taken.md', entryText({ title: 'Taken', body: '\nA body.\n' }));
    await waitFor(() => b.logs.some((l) => l.includes('writing taken.md failed')), 'b to fail writing taken.md');

    const now = await status();
    expect(now.state).toBe('error');
    expect(now.detail).toMatch(/writing taken\.md failed/);
  });
});

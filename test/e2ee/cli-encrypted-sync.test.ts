/**
 * An encrypted workspace synced by the real CLI on two devices (child
 * processes of `diaryx-sync sync`, a real server process): device A turns
 * encryption on with `--encrypt --passphrase-file F` (F ends with a line
 * end, as `echo` writes it), device B joins with `--passphrase-file F`; B
 * holds A's files byte for byte, edits flow both ways with `--once` and
 * live, `--once` says in sync (exit 0) only when it is and not in sync
 * (exit 6) otherwise, and a device locked between runs asks for the
 * passphrase again.
 *
 * Three KDF runs inside the plugin (15-30 s each here): A's enable, B's
 * unlock, B's unlock after it was locked. The runs share one workspace, in
 * order, so no device derives twice for the same state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closedPort, runCli, startCli, useCliServer, type CliResult } from '../e2e/cli-helpers';
import { entryText, folderSnapshot, readFile, tempDir, waitFor, writeFile } from '../e2e/helpers';

const server = useCliServer();
const WORKSPACE = `journal-${crypto.randomUUID().slice(0, 8)}`;
const PASSPHRASE = `two devices ${crypto.randomUUID()}`;

const dirA = tempDir('enc-sync-a');
const dirB = tempDir('enc-sync-b');
const passphraseFile = path.join(tempDir('enc-sync-secret'), 'passphrase');
fs.writeFileSync(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });

const args = (dir: string, extra: string[]) => ['sync', '--dir', dir, '--server', server.url, '--workspace-id', WORKSPACE, ...extra];
// No passphrase from the test runner's environment, and no terminal.
const env = () => ({ DIARYX_SYNC_TOKEN: server.token, DIARYX_SYNC_PASSPHRASE: '' });

/** `sync --once` with the passphrase file (and `extra`). */
function once(dir: string, extra: string[] = []): Promise<CliResult> {
  return runCli(args(dir, ['--once', '--timeout', '120', '--passphrase-file', passphraseFile, ...extra]), { env: env() });
}

function expectInSync(run: CliResult, dir: string): void {
  expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
  expect(run.stdout).toContain(`in sync: ${dir} <-> ${server.url} workspace ${WORKSPACE}\n`);
}

const KDF_LINE = /deriving the key from the passphrase… done in \d+ s/;
const noPassphrase = (run: { stdout: string; stderr: string }) => expect(run.stdout.includes(PASSPHRASE) || run.stderr.includes(PASSPHRASE)).toBe(false);

describe('two devices on an encrypted workspace through the CLI', () => {
  it('A turns encryption on with --once; B joins with the passphrase file and holds the same bytes', async () => {
    writeFile(dirA, 'README.md', entryText({ title: 'Journal', contents: ['[Monday](/days/monday.md)'], body: '\n# Journal\n' }));
    writeFile(dirA, 'days/monday.md', entryText({ title: 'Monday', partOf: '[Journal](/README.md)', extra: { mood: 'calm' }, body: '\nA walk by the river.\n' }));
    const enabled = await once(dirA, ['--encrypt']);
    expectInSync(enabled, dirA);
    expect(enabled.stdout).toMatch(/Enabling encryption: deriving the key from the passphrase… done in \d+ s/);
    expect(enabled.stdout).toContain(`end-to-end encryption is on for workspace ${WORKSPACE}`);
    // The server holds a key record and refuses its zip: nothing on the server is readable.
    const zip = await fetch(`${server.url}/api/workspaces/${WORKSPACE}/snapshot`, { headers: { Authorization: `Bearer ${server.token}` } });
    expect(zip.status).toBe(409);

    const joined = await once(dirB);
    expectInSync(joined, dirB);
    expect(joined.stdout).toMatch(KDF_LINE);
    expect(joined.stdout).toContain(`unlocked the end-to-end encrypted workspace ${WORKSPACE} on this device`);
    expect(folderSnapshot(dirB)).toEqual(folderSnapshot(dirA));
    for (const run of [enabled, joined]) noPassphrase(run);
  }, 600_000);

  it('edits, new files and deletions made while not running go both ways with --once; neither device derives again', async () => {
    writeFile(dirB, 'days/monday.md', readFile(dirB, 'days/monday.md')!.replace('A walk by the river.', 'A walk by the river.\nRain in the evening, from B.'));
    writeFile(dirB, 'days/tuesday.md', entryText({ title: 'Tuesday', body: '\nWritten on B.\n' }));
    const fromB = await once(dirB);
    expectInSync(fromB, dirB);
    const toA = await once(dirA);
    expectInSync(toA, dirA);
    expect(readFile(dirA, 'days/monday.md')).toContain('Rain in the evening, from B.');
    expect(folderSnapshot(dirA)).toEqual(folderSnapshot(dirB));

    fs.rmSync(path.join(dirA, 'days', 'tuesday.md'));
    writeFile(dirA, 'README.md', readFile(dirA, 'README.md')!.replace('# Journal', '# Journal, from A'));
    expectInSync(await once(dirA), dirA);
    const back = await once(dirB);
    expectInSync(back, dirB);
    expect(fs.existsSync(path.join(dirB, 'days', 'tuesday.md'))).toBe(false);
    expect(folderSnapshot(dirB)).toEqual(folderSnapshot(dirA));
    for (const run of [fromB, toA, back]) expect(run.stdout).not.toMatch(/deriving the key/);
  }, 300_000);

  it('live: both devices running, edits flow each way byte for byte', async () => {
    const a = server.track(startCli(args(dirA, ['--passphrase-file', passphraseFile]), { env: env() }));
    const b = server.track(startCli(args(dirB, ['--passphrase-file', passphraseFile]), { env: env() }));
    await a.waitOutput(/press Ctrl-C to stop/, 60_000);
    await b.waitOutput(/press Ctrl-C to stop/, 60_000);
    await a.waitOutput(/in sync with the server/, 60_000);
    await b.waitOutput(/in sync with the server/, 60_000);

    writeFile(dirA, 'days/wednesday.md', entryText({ title: 'Wednesday', body: '\nLive from A.\n' }));
    await b.waitOutput(/\+ created days\/wednesday\.md \(from the server\)/, 60_000);
    await waitFor(() => readFile(dirB, 'days/wednesday.md') === readFile(dirA, 'days/wednesday.md'), 'B to hold wednesday as A wrote it', 30_000);

    writeFile(dirB, 'days/wednesday.md', readFile(dirB, 'days/wednesday.md')!.replace('Live from A.', 'Live from A.\nAnswered live from B.'));
    await a.waitOutput(/↓ received days\/wednesday\.md/, 60_000);
    await waitFor(() => readFile(dirA, 'days/wednesday.md') === readFile(dirB, 'days/wednesday.md'), 'A to hold B’s answer', 30_000);
    expect(readFile(dirA, 'days/wednesday.md')).toContain('Answered live from B.');
    const [ra, rb] = [await a.stop(), await b.stop()];
    for (const run of [ra, rb]) {
      expect(run.stderr.replace('\nstopping…\n', '')).toBe('');
      expect(run.stdout).not.toMatch(/deriving the key/);
    }
    expect(folderSnapshot(dirB)).toEqual(folderSnapshot(dirA));
  }, 300_000);

  it('--once says not in sync (exit 6) while a file is not synced, and in sync once it is fixed', async () => {
    writeFile(dirB, 'broken.md', '---\ntitle: [unclosed\n---\n\nNot synced.\n');
    const differs = await once(dirB);
    expect(differs.code, differs.stderr).toBe(6);
    expect(differs.stderr).toContain('error: the folder and the server differ:\n');
    expect(differs.stderr).toMatch(/ {2}broken\.md: in the folder, missing in this device's synced state \(not synced: front matter is not valid YAML/);
    expect(differs.stderr).not.toContain('snapshot download failed');

    writeFile(dirB, 'broken.md', entryText({ title: 'Fixed', body: '\nSynced now.\n' }));
    expectInSync(await once(dirB), dirB);
    expectInSync(await once(dirA), dirA);
    expect(readFile(dirA, 'broken.md')).toBe(readFile(dirB, 'broken.md'));
  }, 300_000);

  it('a device locked between runs stays locked after a restart: it asks for the passphrase again, then syncs', async () => {
    const locked = await runCli(['command', 'LockWorkspace', '{}', '--dir', dirB]);
    expect(locked.code, locked.stderr).toBe(0);
    expect(JSON.parse(locked.stdout)).toMatchObject({ success: true, data: { remote_id: WORKSPACE, encryption: 'locked' } });

    const noSource = await runCli(args(dirB, ['--once', '--timeout', '60']), { env: env() });
    expect(noSource.code).toBe(2);
    expect(noSource.stderr.trim()).toBe(
      `error: unlock the end-to-end encrypted workspace ${WORKSPACE} needs the passphrase: pass --passphrase-file FILE or set DIARYX_SYNC_PASSPHRASE (or run on a terminal to be asked)`,
    );

    // With the server unreachable it cannot be unlocked either: said at once (exit 4), not after --timeout.
    const unreachable = await runCli(['sync', '--dir', dirB, '--server', `http://127.0.0.1:${await closedPort()}`, '--workspace-id', WORKSPACE, '--once', '--timeout', '600'], { env: env() });
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toMatch(new RegExp(`^error: workspace ${WORKSPACE} is end-to-end encrypted and locked on this device, and the server at .* cannot be asked for its key record \\(.*\\): run sync again with the passphrase once it is reachable\n$`));

    writeFile(dirA, 'days/thursday.md', entryText({ title: 'Thursday', body: '\nWhile B was locked.\n' }));
    expectInSync(await once(dirA), dirA);
    const unlocked = await once(dirB);
    expectInSync(unlocked, dirB);
    expect(unlocked.stdout).toMatch(KDF_LINE);
    expect(folderSnapshot(dirB)).toEqual(folderSnapshot(dirA));
    noPassphrase(unlocked);
  }, 600_000);
});

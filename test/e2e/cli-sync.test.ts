/**
 * `diaryx-sync sync` as a person runs it (child processes of the real CLI, a
 * real server process, real folders): one line per change on both devices,
 * files that are not synced named once, and every problem said in one line
 * with its reason, what happens next, and a distinct exit code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT, createToken, entryText, readFile, startServerProcess, tempDir, waitFor, writeFile } from './helpers';
import { closedPort, runCli, startCli, startOnTerminal, useCliServer, type CliProcess } from './cli-helpers';

const cli = useCliServer({ otherUsers: ['bob'] });

const env = () => ({ DIARYX_SYNC_TOKEN: cli.token });

function sync(dir: string, workspaceId: string, ...extra: string[]): CliProcess {
  return cli.track(startCli(['sync', '--dir', dir, '--server', cli.url, '--workspace-id', workspaceId, ...extra], { env: env() }));
}

/** Lines of output without their time stamps. */
function lines(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\d\d:\d\d:\d\d /, ''));
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('changes', () => {
  it('each device prints one line per change, sent or received', async () => {
    const a = tempDir('a');
    const b = tempDir('b');
    writeFile(a, 'README.md', entryText({ title: 'Journal', body: '\n# Journal\n' }));
    const devA = sync(a, 'ws-lines');
    await devA.waitOutput(/in sync with the server/);
    const devB = sync(b, 'ws-lines');
    await devB.waitOutput(/in sync with the server/);
    await devB.waitOutput(/received 1 file from the server/);

    writeFile(a, 'notes/monday.md', entryText({ title: 'Monday', body: '\nFirst.\n' }));
    await devA.waitOutput(/\+ created notes\/monday\.md \(here, sent\)/);
    await devB.waitOutput(/\+ created notes\/monday\.md \(from the server\)/);
    await waitFor(() => readFile(b, 'notes/monday.md')?.includes('First.'), 'B to get monday');

    writeFile(a, 'notes/monday.md', readFile(a, 'notes/monday.md')!.replace('First.', 'First, edited.'));
    await devA.waitOutput(/↑ sent notes\/monday\.md/);
    await devB.waitOutput(/↓ received notes\/monday\.md/);

    fs.mkdirSync(path.join(a, 'archive', '2026'), { recursive: true });
    fs.renameSync(path.join(a, 'notes', 'monday.md'), path.join(a, 'archive', '2026', 'monday.md'));
    await devA.waitOutput(/→ renamed notes\/monday\.md → archive\/2026\/monday\.md \(here, sent\)/);
    await devB.waitOutput(/→ renamed notes\/monday\.md → archive\/2026\/monday\.md \(from the server\)/);
    // The folder the move emptied goes on the other device too.
    await waitFor(() => !fs.existsSync(path.join(b, 'notes')) && readFile(b, 'archive/2026/monday.md') !== null, 'B to lose notes/');

    fs.rmSync(path.join(a, 'archive'), { recursive: true });
    await devA.waitOutput(/- deleted archive\/2026\/monday\.md \(here, sent\)/);
    await devB.waitOutput(/- deleted archive\/2026\/monday\.md \(from the server\)/);
    await waitFor(() => !fs.existsSync(path.join(b, 'archive')), 'B to lose archive/');

    writeFile(b, 'README.md', readFile(b, 'README.md')!.replace('# Journal', '# Journal from B'));
    await devB.waitOutput(/↑ sent README\.md/);
    await devA.waitOutput(/↓ received README\.md/);
    for (const out of [devA.stdout, devB.stdout]) noStack(out);
    expect(devA.stderr).toBe('');
    expect(devB.stderr).toBe('');
    // Each change is said once.
    expect(lines(devB.stdout).filter((l) => l.includes('monday.md (from the server)') && l.startsWith('+'))).toHaveLength(1);
  }, 120_000);

  it('--quiet prints problems only', async () => {
    const a = tempDir('qa');
    writeFile(a, 'README.md', entryText({ title: 'Quiet', body: '\nQuiet.\n' }));
    const dev = sync(a, 'ws-quiet', '--quiet');
    await waitFor(() => fs.existsSync(path.join(a, '.diaryx', 'plugin-storage', 'diaryx.sync', 'sync.extism.config')), 'the job to start');
    writeFile(a, 'photo.png', 'not really a png');
    await dev.waitOutput(/! not synced: photo\.png/);
    writeFile(a, 'more.md', entryText({ title: 'More', body: '\nMore.\n' }));
    await new Promise((r) => setTimeout(r, 1500));
    expect(dev.stdout).toBe('');
  }, 60_000);
});

describe('conflicts', () => {
  it("names the file and the copy that keeps this device's text", async () => {
    const a = tempDir('ca');
    const b = tempDir('cb');
    writeFile(a, 'x.md', entryText({ title: 'X', body: '\noriginal text\n' }));
    const once = (dir: string) => runCli(['sync', '--dir', dir, '--server', cli.url, '--workspace-id', 'ws-conflict', '--once'], { env: env() });
    expect((await once(a)).code).toBe(0);
    expect((await once(b)).code).toBe(0);
    // B edits the file while not syncing; A renames it meanwhile.
    writeFile(b, 'x.md', readFile(b, 'x.md')!.replace('original text', 'edited on B'));
    fs.renameSync(path.join(a, 'x.md'), path.join(a, 'y.md'));
    expect((await once(a)).code).toBe(0);
    const r = await once(b);
    expect(r.code, r.stderr).toBe(0);
    const line = lines(r.stderr).find((l) => l.startsWith('! conflict'));
    expect(line).toMatch(/^! conflict y\.md: the server had different text; this device's text is kept in y \(conflict [0-9a-f]+\)\.md$/);
    const copy = /kept in (.+)$/.exec(line!)![1];
    expect(readFile(b, copy)).toContain('edited on B');
  }, 90_000);
});

describe('files that are not synced', () => {
  it('names a file no entry references once and keeps it off the other devices', async () => {
    const a = tempDir('png');
    const b = tempDir('png-b');
    writeFile(a, 'README.md', entryText({ title: 'Pics', body: '\nPics.\n' }));
    writeFile(a, 'old.txt', 'a text file already there');
    const devA = sync(a, 'ws-png');
    await devA.waitOutput(/in sync with the server/);
    writeFile(a, 'photo.png', '\x89PNG fake');
    await devA.waitOutput(/! not synced: photo\.png: no entry references it/);
    writeFile(a, 'photo.png', '\x89PNG fake, changed');
    writeFile(a, 'after.md', entryText({ title: 'After', body: '\nAfter.\n' }));
    await devA.waitOutput(/\+ created after\.md/);
    expect(lines(devA.stderr)).toEqual(
      ['old.txt', 'photo.png'].map((f) => `! not synced: ${f}: no entry references it; only Markdown entries and the files they reference sync`),
    );
    const devB = sync(b, 'ws-png');
    await devB.waitOutput(/in sync with the server/);
    await waitFor(() => readFile(b, 'after.md') !== null, 'B to get after.md');
    expect(fs.existsSync(path.join(b, 'photo.png'))).toBe(false);
    expect(fs.existsSync(path.join(b, 'old.txt'))).toBe(false);
  }, 60_000);

  it('names a file whose front matter does not parse, once per error, and syncs it once fixed', async () => {
    const a = tempDir('yaml');
    const b = tempDir('yaml-b');
    writeFile(a, 'README.md', entryText({ title: 'Yaml', body: '\nYaml.\n' }));
    const devA = sync(a, 'ws-yaml');
    await devA.waitOutput(/in sync with the server/);
    const devB = sync(b, 'ws-yaml');
    await devB.waitOutput(/in sync with the server/);
    writeFile(a, 'broken.md', '---\ntitle: [unclosed\n---\nBody text.\n');
    await devA.waitOutput(/! not synced: broken\.md: front matter is not valid YAML \(.+\); fix it and save the file to sync it/);
    writeFile(a, 'broken.md', '---\ntitle: [unclosed\n---\nBody text, edited.\n');
    writeFile(a, 'other.md', entryText({ title: 'Other', body: '\nOther.\n' }));
    await devA.waitOutput(/\+ created other\.md/);
    expect(lines(devA.stderr).filter((l) => l.includes('broken.md'))).toHaveLength(1);
    writeFile(a, 'broken.md', '---\ntitle: ok: no\n---\nBody text, edited.\n');
    await waitFor(() => lines(devA.stderr).filter((l) => l.includes('broken.md')).length === 2, 'the new error to be named');
    writeFile(a, 'broken.md', '---\ntitle: Fixed\n---\nBody text, fixed.\n');
    await devA.waitOutput(/✓ broken\.md syncs again/);
    await waitFor(() => readFile(b, 'broken.md')?.includes('Body text, fixed.'), 'B to get the fixed file');
  }, 60_000);
});

describe('problems', () => {
  it('a wrong token ends at once with one line and exit code 3', async () => {
    const started = Date.now();
    const r = await runCli(['sync', '--dir', tempDir('badtoken'), '--server', cli.url, '--workspace-id', 'ws-x', '--once'], { env: { DIARYX_SYNC_TOKEN: 'not-a-token' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `error: the server at ${cli.url} refused the token (HTTP 401): it is mistyped, revoked or from another server; create one with \`diaryx-sync token create --user NAME\` on the server\n`,
    );
    expect(Date.now() - started).toBeLessThan(60_000);
    // Without --once too: a token the server refuses never starts syncing.
    const live = await runCli(['sync', '--dir', tempDir('badtoken2'), '--server', cli.url, '--token-file', writeTokenFile('nope')]);
    expect(live.code).toBe(3);
    expect(live.stderr).toMatch(/^error: the server at .* refused the token/);
  }, 90_000);

  it("another user's workspace ends with one line and exit code 3", async () => {
    const owner = tempDir('owner');
    writeFile(owner, 'README.md', entryText({ title: 'Mine', body: '\nMine.\n' }));
    expect((await runCli(['sync', '--dir', owner, '--server', cli.url, '--workspace-id', 'ws-alice', '--once'], { env: env() })).code).toBe(0);
    const r = await runCli(['sync', '--dir', tempDir('intruder'), '--server', cli.url, '--workspace-id', 'ws-alice', '--once'], {
      env: { DIARYX_SYNC_TOKEN: cli.tokenOf('bob') },
    });
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toEqual([
      'error: access to workspace ws-alice denied: it belongs to another user (or the server does not create new workspaces); choose another --workspace-id',
    ]);
  }, 90_000);

  it('a closed port: the reason, the pending changes and the next retry, then everything goes out once the server is there', async () => {
    const port = await closedPort();
    const dataDir = tempDir('later-server');
    const laterToken = await createToken(dataDir, 'carol');
    const dir = tempDir('closed');
    writeFile(dir, 'README.md', entryText({ title: 'Offline', body: '\nOffline.\n' }));
    const dev = startCli(['sync', '--dir', dir, '--server', `http://127.0.0.1:${port}`, '--workspace-id', 'ws-closed'], { env: { DIARYX_SYNC_TOKEN: laterToken } });
    cli.track(dev);
    await dev.waitOutput(/! server unreachable: connection refused; 0 changes pending; retry in \d+ s/);
    writeFile(dir, 'README.md', entryText({ title: 'Offline', body: '\nOffline, edited.\n' }));
    await dev.waitOutput(/↑ pending README\.md \(to send once connected\)/);
    await dev.waitOutput(/! server unreachable: connection refused; 1 change pending; retry in \d+ s/);
    const later = await startServerProcess(dataDir, { port });
    try {
      await dev.waitOutput(/✓ connected to the server again/);
      await dev.waitOutput(/↑ sent 1 change that waited for the connection/);
      const checkDir = tempDir('closed-check');
      const check = await runCli(['sync', '--dir', checkDir, '--server', later.url, '--workspace-id', 'ws-closed', '--once'], {
        env: { DIARYX_SYNC_TOKEN: laterToken },
      });
      expect(check.code, check.stderr).toBe(0);
      expect(readFile(checkDir, 'README.md')).toContain('Offline, edited.');
      // A server that comes back without this token (another data folder): the run ends with exit code 3.
      await later.stop();
      const stranger = await startServerProcess(tempDir('stranger-server'), { port });
      try {
        const end = await dev.exited;
        expect(end.code).toBe(3);
        expect(end.stderr).toMatch(/\nerror: the server at http:\/\/127\.0\.0\.1:\d+ refused the token \(HTTP 401\)/);
      } finally {
        await stranger.stop();
      }
    } finally {
      await dev.stop();
      await later.stop();
    }
    noStack(dev.stderr);
  }, 90_000);

  it('an unknown host under --once: the reason and retries, then exit code 4', async () => {
    const r = await runCli(['sync', '--dir', tempDir('nohost'), '--server', 'http://no-such-host.invalid:3030', '--once', '--timeout', '4'], { env: env() });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/! server unreachable: unknown host no-such-host\.invalid; 0 changes pending; retry in \d+ s/);
    expect(r.stderr).toMatch(/error: server unreachable after 4 s: unknown host no-such-host\.invalid\n$/);
    noStack(r.stderr);
  }, 60_000);

  it('a server URL without http:// is refused with what to write instead', async () => {
    const r = await runCli(['sync', '--dir', tempDir('noscheme'), '--server', `127.0.0.1:${cli.port}`, '--once'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --server 127.0.0.1:${cli.port} has no scheme: write http://127.0.0.1:${cli.port} (or https://127.0.0.1:${cli.port} for a server with TLS)\n`);
  });

  it('--dir that is a file, and a new --dir announced (--verbose shows the statuses)', async () => {
    const file = path.join(tempDir('dirfile'), 'journal.md');
    fs.writeFileSync(file, 'x');
    const r = await runCli(['sync', '--dir', file, '--server', cli.url, '--once'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --dir ${file} is a file, not a folder\n`);
    const fresh = path.join(tempDir('parent'), 'new-device');
    const ok = await runCli(['sync', '--dir', fresh, '--server', cli.url, '--workspace-id', 'ws-fresh', '--once', '--verbose'], { env: env() });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`created the folder ${fresh} (it did not exist)`);
    // --verbose: every status change, and the plugin log.
    expect(lines(ok.stdout)).toContain('connected');
    expect(ok.stderr).toMatch(/^\[plugin info\] /m);
  }, 60_000);
});

function writeTokenFile(value: string): string {
  const file = path.join(tempDir('token'), 'token');
  fs.writeFileSync(file, `${value}\n`);
  return file;
}

/** Runs a command as an unprivileged user when the tests run as root (root writes anywhere). */
function asUser(): string[] {
  return process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
}

function shell(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, ...env(), HOME: '/tmp' }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('folders that cannot be written, and closed pipes', () => {
  const bin = path.join(ROOT, 'bin', 'diaryx-sync.mjs');

  it('a folder that is not writable: one line and exit code 5', () => {
    const dir = tempDir('readonly');
    fs.chmodSync(dir, 0o555);
    const r = shell(`${asUser().join(' ')} node ${bin} sync --dir ${dir} --server ${cli.url} --once`);
    expect(r.status).toBe(5);
    expect(r.stderr).toBe(`error: cannot write to the folder ${dir}: permission denied\n`);
  });

  it('under --once, a file that cannot be written ends the run at once with exit code 5', async () => {
    const a = tempDir('wsrc');
    writeFile(a, 'README.md', entryText({ title: 'Src', body: '\nSrc.\n' }));
    writeFile(a, 'days/monday.md', entryText({ title: 'Monday', body: '\nMonday.\n' }));
    expect((await runCli(['sync', '--dir', a, '--server', cli.url, '--workspace-id', 'ws-write', '--once'], { env: env() })).code).toBe(0);
    const b = tempDir('wdst');
    fs.mkdirSync(path.join(b, 'days'));
    fs.chmodSync(path.join(b, 'days'), 0o555);
    if (process.getuid?.() === 0) fs.chownSync(b, 65534, 65534);
    const started = Date.now();
    const r = shell(`${asUser().join(' ')} node ${bin} sync --dir ${b} --server ${cli.url} --workspace-id ws-write --once --timeout 100`);
    expect(r.status, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/^error: sync failed: .*days\/monday\.md.*\n$/m);
    expect(Date.now() - started).toBeLessThan(60_000);
    noStack(r.stderr);
  }, 120_000);

  it('body piped into head ends quietly; body of a missing path fails', async () => {
    const a = tempDir('pipe');
    writeFile(a, 'big.md', entryText({ title: 'Big', body: `\n${'a line of the body\n'.repeat(20_000)}` }));
    expect((await runCli(['sync', '--dir', a, '--server', cli.url, '--workspace-id', 'ws-pipe', '--once'], { env: env() })).code).toBe(0);
    const r = shell(`node ${bin} body big.md --dir ${a} 2>${a}/.err | head -2; echo "status \${PIPESTATUS[0]}"; cat ${a}/.err`);
    expect(r.stdout).toBe('\na line of the body\nstatus 0\n');
    const missing = await runCli(['body', 'nope.md', '--dir', a]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`error: no file nope.md in the workspace (\`diaryx-sync files --dir ${a}\` lists them)\n`);
  }, 60_000);
});

describe('a first download on a terminal', () => {
  it('shows each progress phase under its own label, counting up once', async () => {
    const FILES = 400;
    const a = tempDir('many');
    for (let i = 0; i < FILES; i++) writeFile(a, `days/d${i}.md`, entryText({ title: `D${i}`, body: `\nDay ${i}.\n` }));
    expect((await runCli(['sync', '--dir', a, '--server', cli.url, '--workspace-id', 'ws-many', '--once'], { env: env() })).code).toBe(0);
    const b = tempDir('many-b');
    const bin = path.join(ROOT, 'bin', 'diaryx-sync.mjs');
    // `script` gives the command a terminal, where the progress bar shows.
    const dev = startOnTerminal(`node ${bin} sync --dir ${b} --server ${cli.url} --workspace-id ws-many`, { env: env() });
    cli.track(dev);
    await dev.waitOutput(/received 400 files from the server \(400 new\)/, 90_000);
    await dev.waitOutput(/in sync with the server/);
    await dev.stop();
    const text = dev.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    const counts = (label: string) => [...text.matchAll(new RegExp(`${label} \\[[^\\]]*\\] (\\d+)/(\\d+)`, 'g'))].map((m) => Number(m[1]));
    const receiving = counts('receiving files');
    expect(receiving.length).toBeGreaterThan(0);
    // One sequence: the count never goes back (the same label counting up twice was the bug).
    for (let i = 1; i < receiving.length; i++) expect(receiving[i]).toBeGreaterThanOrEqual(receiving[i - 1]);
    expect(text).not.toMatch(/initial sync/);
  }, 180_000);
});


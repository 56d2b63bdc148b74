/**
 * `diaryx-sync sync --encrypt` and joining an encrypted workspace, as a person
 * runs them: spawned CLI processes against a real server process. Where the
 * passphrase comes from (--passphrase-file, $DIARYX_SYNC_PASSPHRASE, none
 * without a terminal), the KDF line, a wrong passphrase (one line, exit 2,
 * nothing written) and a device that holds its keys not asking again.
 *
 * Three KDF runs inside the plugin (15-30 s each here), on the CLI's engine
 * only: the CLI always runs the default engine, and the commands it calls are
 * covered on every engine elsewhere (test/e2ee/workspace-keys.test.ts says why).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { storageFileName } from '../../host-harness/src/plugin-storage';
import { pluginStorageDir } from '../../host-harness/src/workspace-host';
import { startCli, useCliServer, type CliProcess } from '../e2e/cli-helpers';
import { ROOT, tempDir, waitFor } from '../e2e/helpers';

const server = useCliServer();
const PASSPHRASE = `cli ${crypto.randomUUID()} words`;
const WORKSPACE = `private-${crypto.randomUUID().slice(0, 8)}`;

function sync(dir: string, extra: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  // No passphrase from the test runner's environment, and no terminal (stdin is not one).
  return server.track(startCli(['sync', '--dir', dir, '--server', server.url, '--token', server.token, '--workspace-id', WORKSPACE, ...extra], { env: { DIARYX_SYNC_PASSPHRASE: '', ...env } }));
}

function storedKeys(dir: string): Record<string, unknown> | null {
  const file = path.join(pluginStorageDir(dir), storageFileName(`e2ee:${WORKSPACE}`));
  if (!fs.existsSync(file) || fs.statSync(file).size === 0) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function linkedWorkspace(dir: string): unknown {
  const file = path.join(pluginStorageDir(dir), storageFileName('sync.extism.config'));
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { workspace_id: unknown }).workspace_id : null;
}

async function keysStatus(): Promise<number> {
  const res = await fetch(`${server.url}/api/workspaces/${WORKSPACE}/keys`, { headers: { Authorization: `Bearer ${server.token}` } });
  await res.arrayBuffer();
  return res.status;
}

const markdownFiles = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.md'));

describe('sync --encrypt and joining an encrypted workspace', () => {
  it('enables with --passphrase-file, refuses a wrong passphrase from the environment, unlocks with the right one, then never asks again', async () => {
    const a = tempDir('enc-a');
    const b = tempDir('enc-b');
    const c = tempDir('enc-c');
    const file = path.join(tempDir('secret'), 'passphrase');
    fs.writeFileSync(file, `${PASSPHRASE}\n`);

    // No passphrase source and no terminal: a usage error before anything is created.
    const none = await sync(a, ['--encrypt']).exited;
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe(
      `error: encrypt the new workspace ${WORKSPACE} needs the passphrase: pass --passphrase-file FILE or set DIARYX_SYNC_PASSPHRASE (or run on a terminal to be asked)`,
    );
    expect(await keysStatus()).toBe(404);
    expect(storedKeys(a)).toBeNull();

    // Device A turns encryption on: the KDF line, the record on the server, the keys here.
    const enable = sync(a, ['--encrypt', '--passphrase-file', file]);
    await enable.waitOutput(/end-to-end encryption is on/, 240_000);
    expect(enable.stdout).toMatch(/\d\d:\d\d:\d\d Enabling encryption: deriving the key from the passphrase… done in \d+ s\n/);
    expect(await keysStatus()).toBe(200);
    const aKeys = storedKeys(a);
    expect(aKeys).toMatchObject({ v: 1, epoch: 1 });
    const listed = (await (await fetch(`${server.url}/api/workspaces`, { headers: { Authorization: `Bearer ${server.token}` } })).json()) as { id: string }[];
    expect(listed.map((w) => w.id)).toContain(WORKSPACE);
    const enabled = await enable.stop();

    // Device C: the workspace is encrypted, and there is no passphrase: one line, exit 2.
    const noPassphrase = await sync(c, []).exited;
    expect(noPassphrase.code).toBe(2);
    expect(noPassphrase.stderr.trim()).toBe(
      `error: unlock the end-to-end encrypted workspace ${WORKSPACE} needs the passphrase: pass --passphrase-file FILE or set DIARYX_SYNC_PASSPHRASE (or run on a terminal to be asked)`,
    );

    // Device B with a wrong passphrase: one line, exit 2, no keys, not linked, no file.
    const wrong = await sync(b, [], { DIARYX_SYNC_PASSPHRASE: `not ${PASSPHRASE}` }).exited;
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toEqual([`error: wrong passphrase for the end-to-end encrypted workspace ${WORKSPACE}: nothing was changed on this device`]);
    expect(wrong.stdout).toMatch(/Unlocking: deriving the key from the passphrase… done in \d+ s\n/);
    expect(storedKeys(b)).toBeNull();
    expect(linkedWorkspace(b)).toBeNull();
    expect(markdownFiles(b)).toEqual([]);

    // The right passphrase from the environment unlocks: the same keys, B's own device id.
    const unlock = sync(b, [], { DIARYX_SYNC_PASSPHRASE: PASSPHRASE });
    await unlock.waitOutput(/unlocked the end-to-end encrypted workspace/, 240_000);
    const bKeys = storedKeys(b);
    expect(bKeys?.keys).toEqual(aKeys?.keys);
    expect(bKeys?.device).not.toBe(aKeys?.device);
    expect(linkedWorkspace(b)).toBe(WORKSPACE);
    const unlocked = await unlock.stop();

    // B again, with no passphrase anywhere: it holds the keys, so it neither asks nor derives.
    const again = sync(b, []);
    await again.waitOutput(/press Ctrl-C to stop/, 60_000);
    expect(again.stdout).not.toMatch(/deriving the key/);
    const last = await again.stop();

    for (const run of [none, enabled, noPassphrase, wrong, unlocked, last]) {
      expect(run.stdout.includes(PASSPHRASE) || run.stderr.includes(PASSPHRASE), 'the passphrase was printed').toBe(false);
    }
  }, 900_000);

  it('asks on a terminal without echo, twice for a new passphrase; two different ones change nothing', async () => {
    const dir = tempDir('enc-tty');
    const id = `${WORKSPACE}-tty`;
    const bin = path.join(ROOT, 'bin', 'diaryx-sync.mjs');
    const command = `${process.execPath} ${bin} sync --dir ${dir} --server ${server.url} --token ${server.token} --workspace-id ${id} --encrypt`;
    // `script` gives the command a terminal; what is typed goes to it through script's stdin.
    const proc = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, DIARYX_SYNC_PASSPHRASE: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes(`Passphrase (encrypt the new workspace ${id}): `), 'the prompt', 60_000);
      proc.stdin.write('typed-once-secret\r');
      await waitFor(() => out.includes('Passphrase again: '), 'the second prompt', 30_000);
      proc.stdin.write('typed-twice-other\r');
      expect(await exited).toBe(2);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
    expect(out).toContain('error: the two passphrases differ: nothing was changed');
    expect(out).not.toContain('typed-once-secret');
    expect(out).not.toContain('typed-twice-other');
    expect(out).not.toMatch(/deriving the key/);
    expect(await (await fetch(`${server.url}/api/workspaces/${id}/keys`, { headers: { Authorization: `Bearer ${server.token}` } })).status).toBe(404);
  }, 120_000);
});

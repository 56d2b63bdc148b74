/**
 * Two devices editing the same line at the same time, through real
 * `diaryx-sync` processes, a real server process and real folders: both
 * texts stay (merged by the CRDT), each device names the file and the devices
 * whose edits met, and the history marks the received change with the
 * version before it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ROOT, cleanupTemp, createToken, readFile, startServerProcess, tempDir, waitFor, writeFile, type ServerProcess } from './helpers';

let server: ServerProcess;
let token: string;
const procs: ChildProcess[] = [];

beforeAll(async () => {
  const dataDir = tempDir('server');
  token = await createToken(dataDir, 'alice');
  server = await startServerProcess(dataDir);
});
afterEach(async () => {
  await Promise.all(procs.splice(0).map(stop));
});
afterAll(async () => {
  await server?.stop();
  cleanupTemp();
});

function stop(p: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

function syncArgs(dir: string): string[] {
  return [path.join(ROOT, 'bin', 'diaryx-sync.mjs'), 'sync', '--dir', dir, '--server', server.url, '--token', token, '--workspace-id', 'ws-concurrent'];
}

function syncProcess(dir: string): { proc: ChildProcess; out: () => string } {
  const proc = spawn(process.execPath, [...syncArgs(dir), '--verbose'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { proc, out: () => out };
}

function syncOnce(dir: string): Promise<number | null> {
  const proc = spawn(process.execPath, [...syncArgs(dir), '--once'], { cwd: ROOT, stdio: 'ignore' });
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

function cli(args: string[]): string {
  return execFileSync(process.execPath, [path.join(ROOT, 'bin', 'diaryx-sync.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
}

const shared = (line: string) => `---\ntitle: Shared\n---\nFirst line\nShared line ${line}.\nLast line\n`;

it('the same line edited on two devices at once: both texts stay, the file and devices are named, the version before is in history', async () => {
  const a = tempDir('a');
  const b = tempDir('b');
  writeFile(a, 'shared.md', shared(''));
  expect(await syncOnce(a)).toBe(0);
  expect(await syncOnce(b)).toBe(0);
  expect(readFile(b, 'shared.md')).toBe(shared(''));

  // Both edit the same line before either sees the other's edit (B is not running, so the timing is certain).
  writeFile(b, 'shared.md', shared('edited by B'));
  const pa = syncProcess(a);
  await waitFor(() => /syncing .* with workspace|synced/.test(pa.out()), 'A to start', 60_000);
  writeFile(a, 'shared.md', shared('edited by A'));
  await new Promise((r) => setTimeout(r, 1500));
  const pb = syncProcess(b);

  const merged = (text: string | null) => text !== null && text.includes('edited by A') && text.includes('edited by B');
  await waitFor(() => merged(readFile(a, 'shared.md')) && readFile(a, 'shared.md') === readFile(b, 'shared.md'), 'both folders to hold the merged line', 60_000);
  expect(readFile(a, 'shared.md')).toMatch(/^---\ntitle: Shared\n---\nFirst line\nShared line edited by [AB]edited by [AB]\.\nLast line\n$/);

  // Each device says which file met a concurrent edit, and from which devices.
  const notice = /! concurrent edit shared\.md: edited on (.+) and (.+) at the same time; both texts were kept/;
  await waitFor(() => notice.test(pa.out()) && notice.test(pb.out()), 'both devices to report the concurrent edit', 30_000);
  await Promise.all(procs.splice(0).map(stop));

  // A's history marks the received change, with its own version before it.
  const history = JSON.parse(cli(['command', 'GetFileHistory', '{"file_path":"shared.md"}', '--dir', a])) as {
    data: { update_id: number; doc_name: string; concurrent?: { devices: string[]; before_update_id: number } }[];
  };
  const marked = history.data.find((e) => e.concurrent !== undefined);
  expect(marked?.doc_name).toBe('shared.md');
  expect(marked!.concurrent!.devices).toHaveLength(2);
  const before = JSON.parse(
    cli(['command', 'GetFileVersion', JSON.stringify({ file_path: 'shared.md', update_id: marked!.concurrent!.before_update_id }), '--dir', a]),
  ) as { data: { content: string } };
  expect(before.data.content).toBe('First line\nShared line edited by A.\nLast line\n');
}, 180_000);

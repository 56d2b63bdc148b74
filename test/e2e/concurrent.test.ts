/**
 * Two devices editing the same line at the same time, through real
 * `diaryx-sync` processes, a real server process and real folders: both
 * texts stay (merged by the CRDT), each device names the file and the devices
 * whose edits met, and the history marks the received change with the
 * version before it.
 */
import { expect, it } from 'vitest';
import { runCli, useCliServer } from './cli-helpers';
import { readFile, tempDir, waitFor, writeFile } from './helpers';

const server = useCliServer();
const WORKSPACE = 'ws-concurrent';

/** A running `sync` (verbose: the plugin log goes to stderr too); `out()` is everything it printed. */
function syncProcess(dir: string): { out: () => string; stop: () => Promise<unknown> } {
  const p = server.sync(dir, WORKSPACE, ['--verbose']);
  return { out: () => p.stdout + p.stderr, stop: () => p.stop() };
}

async function syncOnce(dir: string): Promise<number | null> {
  return (await server.syncOnce(dir, WORKSPACE)).code;
}

async function cli(args: string[]): Promise<string> {
  const run = await runCli(args);
  if (run.code !== 0) throw new Error(`diaryx-sync ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
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
  await Promise.all([pa.stop(), pb.stop()]);

  // A's history marks the received change, with its own version before it.
  const history = JSON.parse(await cli(['command', 'GetFileHistory', '{"file_path":"shared.md"}', '--dir', a])) as {
    data: { update_id: number; doc_name: string; concurrent?: { devices: string[]; before_update_id: number } }[];
  };
  const marked = history.data.find((e) => e.concurrent !== undefined);
  expect(marked?.doc_name).toBe('shared.md');
  expect(marked!.concurrent!.devices).toHaveLength(2);
  const before = JSON.parse(
    await cli(['command', 'GetFileVersion', JSON.stringify({ file_path: 'shared.md', update_id: marked!.concurrent!.before_update_id }), '--dir', a]),
  ) as { data: { content: string } };
  expect(before.data.content).toBe('First line\nShared line edited by A.\nLast line\n');
}, 180_000);

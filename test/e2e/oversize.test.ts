/**
 * A file too large to sync, with two real `diaryx-sync sync` processes, a real
 * server process and real folders: the file is named with the limit and left
 * out, the connection stays up and everything else keeps syncing; a file that
 * grew over the limit keeps its last synced version elsewhere, and deleting
 * it syncs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { useCliServer } from './cli-helpers';
import { readFile, tempDir, waitFor, writeFile } from './helpers';

const server = useCliServer();

/** A running `sync` (verbose: the plugin log goes to stderr too); `out()` is everything it printed. */
function syncProcess(dir: string, workspaceId: string): { out: () => string } {
  const p = server.sync(dir, workspaceId, ['--verbose']);
  return { out: () => p.stdout + p.stderr };
}

const note = (title: string, body: string) => `---\ntitle: ${title}\n---\n${body}`;

it('a 20 MB file is skipped with the limit named, the rest syncs, and deleting a grown file syncs', async () => {
  const a = tempDir('a');
  const b = tempDir('b');
  writeFile(a, 'README.md', note('Root', 'root\n'));
  writeFile(a, 'grows.md', note('Grows', 'small for now\n'));
  const huge = note('Huge', 'lorem ipsum dolor sit amet\n'.repeat(800_000)); // about 21 MB
  writeFile(a, 'huge.md', huge);

  const pa = syncProcess(a, 'ws-oversize');
  await waitFor(() => /! not synced: huge\.md: huge\.md is 20\.\d MiB, over the 8 MiB limit for one file: not synced/.test(pa.out()), 'A to name the skipped file and the limit', 60_000);
  const pb = syncProcess(b, 'ws-oversize');
  await waitFor(() => readFile(b, 'grows.md') === note('Grows', 'small for now\n') && readFile(b, 'README.md') !== null, 'B to get the other files', 60_000);
  expect(fs.existsSync(path.join(b, 'huge.md'))).toBe(false);

  // The rest keeps syncing both ways.
  writeFile(a, 'README.md', note('Root', 'root, edited on A\n'));
  await waitFor(() => readFile(b, 'README.md') === note('Root', 'root, edited on A\n'), 'an edit on A to reach B', 30_000);
  writeFile(b, 'from-b.md', note('From B', 'hello\n'));
  await waitFor(() => readFile(a, 'from-b.md') === note('From B', 'hello\n'), 'a new file on B to reach A', 30_000);

  // A synced file that grows over the limit: named, its last version stays on B; deleting it syncs.
  writeFile(a, 'grows.md', note('Grows', 'x'.repeat(9 * 1024 * 1024)));
  await waitFor(() => /grows\.md is 9(\.\d)? MiB, over the 8 MiB limit/.test(pa.out()), 'A to name the grown file', 30_000);
  fs.rmSync(path.join(a, 'grows.md'));
  fs.rmSync(path.join(a, 'huge.md'));
  await waitFor(() => !fs.existsSync(path.join(b, 'grows.md')), 'the delete to reach B', 30_000);
  writeFile(a, 'after.md', note('After', 'still syncing\n'));
  await waitFor(() => readFile(b, 'after.md') === note('After', 'still syncing\n'), 'later edits to reach B', 30_000);

  // The connection was never refused: no reconnect loop on either device.
  expect(pa.out()).not.toMatch(/message too big|disconnected/i);
  expect(pb.out()).not.toMatch(/message too big|disconnected/i);
}, 180_000);

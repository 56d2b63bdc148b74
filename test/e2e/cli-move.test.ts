/**
 * Moves into new folders with two `diaryx-sync sync` processes running: each
 * move must reach the server as a move (never as a delete only), so the other
 * device and a third, new device have every file at its new path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanupTemp, createToken, entryText, folderSnapshot, startServerProcess, tempDir, waitFor, writeFile, type ServerProcess } from './helpers';
import { runCli, startCli, type CliProcess } from './cli-helpers';

let server: ServerProcess;
let token: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  const dataDir = tempDir('server');
  token = await createToken(dataDir, 'alice');
  server = await startServerProcess(dataDir);
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await server?.stop();
  cleanupTemp();
});

const MOVES = 20;

function syncArgs(dir: string, ...extra: string[]): string[] {
  return ['sync', '--dir', dir, '--server', server.url, '--workspace-id', 'ws-moves', ...extra];
}

it(`${MOVES} moves into new folders reach the other device and a new one at their new paths`, async () => {
  const a = tempDir('a');
  const b = tempDir('b');
  writeFile(a, 'README.md', entryText({ title: 'Journal', body: '\n# Journal\n' }));
  for (let i = 0; i < MOVES; i++) writeFile(a, `A/day-${i}.md`, entryText({ title: `Day ${i}`, body: `\nText of day ${i}.\n` }));
  const env = { DIARYX_SYNC_TOKEN: token };
  const devA = startCli(syncArgs(a), { env });
  running.push(devA);
  await devA.waitOutput(/in sync with the server/);
  const devB = startCli(syncArgs(b), { env });
  running.push(devB);
  await waitFor(() => Object.keys(folderSnapshot(b)).length === MOVES + 1, 'B to get every file', 60_000);
  await devB.waitOutput(/in sync with the server/);

  for (let i = 0; i < MOVES; i++) {
    // What `mkdir -p A/2026/12; mv A/day.md A/2026/12/day.md` does.
    const to = path.join(a, 'A', String(2026 + i), '12');
    fs.mkdirSync(to, { recursive: true });
    fs.renameSync(path.join(a, 'A', `day-${i}.md`), path.join(to, `day-${i}.md`));
    await new Promise((r) => setTimeout(r, 150 + (i % 4) * 200));
  }
  const expected = Object.keys(folderSnapshot(a)).sort();
  expect(expected).toHaveLength(MOVES + 1);
  expect(expected.filter((p) => p.startsWith('A/20'))).toHaveLength(MOVES);
  await waitFor(
    () => JSON.stringify(Object.keys(folderSnapshot(b)).sort()) === JSON.stringify(expected),
    'B to have every file at its new path',
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\nB has: ${Object.keys(folderSnapshot(b)).join(', ')}\nA stderr:\n${devA.stderr}\nB stderr:\n${devB.stderr}`);
  });

  // Each move was sent and received as a move, never as a delete.
  await waitFor(() => devB.stdout.split('\n').filter((l) => l.includes('→ renamed') && l.includes('(from the server)')).length === MOVES, 'B to report every move').catch(
    (e: Error) => {
      throw new Error(`${e.message}\nA:\n${devA.stdout}\nB:\n${devB.stdout}`);
    },
  );
  for (const dev of [devA, devB]) expect(dev.stdout).not.toMatch(/ - deleted /);
  expect(devA.stdout.split('\n').filter((l) => /→ renamed A\/day-\d+\.md → A\/\d+\/12\/day-\d+\.md \(here, sent\)/.test(l))).toHaveLength(MOVES);

  const c = tempDir('c');
  const third = await runCli(syncArgs(c, '--once'), { env });
  expect(third.code, third.stderr).toBe(0);
  expect(Object.keys(folderSnapshot(c)).sort()).toEqual(expected);
  for (let i = 0; i < MOVES; i++) {
    expect(fs.readFileSync(path.join(c, 'A', String(2026 + i), '12', `day-${i}.md`), 'utf8')).toContain(`Text of day ${i}.`);
  }
}, 240_000);

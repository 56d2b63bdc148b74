/**
 * Crashes: the server process is killed (SIGKILL) in the middle of a burst of
 * edits and restarted on the same data dir and port; a device is stopped
 * abruptly (no shutdown, nothing saved at the end) and restarted from what it
 * had stored. Afterwards every folder holds every edit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  crashDevice,
  e2eSuite,
  entryText,
  folderSnapshot,
  tempDir,
  waitFor,
  waitForSameFolders,
  waitLocalSeen,
  writeFile,
  type Device,
} from './helpers';

const suite = e2eSuite();
const device = (name: string, workspaceId: string, dir?: string) => suite.device(name, workspaceId, { dir });

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('server crash', () => {
  it('SIGKILL during a burst of edits, restart on the same data dir and port: devices converge with every edit', async () => {
    const a = await device('a', 'ws-kill');
    const b = await device('b', 'ws-kill');
    await Promise.all([a.job.waitUntilSynced(20_000), b.job.waitUntilSynced(20_000)]);

    const model: Record<string, string> = {};
    const lines: Record<string, string[]> = {};
    const edit = (d: Device, rel: string) => {
      const own = (lines[rel] ??= []);
      own.push(`edit ${own.length + 1} of ${rel} on ${d.name}`);
      model[rel] = entryText({ title: rel.replace(/\.md$/, ''), body: `\n${own.join('\n')}\n` });
      writeFile(d.dir, rel, model[rel]);
    };
    // A burst: 40 edits over 8 files, spread over both devices (each file
    // edited by one device only, so every device's last write is the final text).
    const steps: [Device, string][] = [];
    for (let i = 0; i < 40; i++) {
      const file = i % 8;
      steps.push([file < 4 ? a : b, `burst/f${file}.md`]);
    }
    let killed = false;
    for (let i = 0; i < steps.length; i++) {
      edit(...steps[i]);
      if (i === 20) {
        // Mid-burst: some edits are on the server, some in flight, some not sent yet.
        await suite.server.kill();
        killed = true;
      }
      await pause(40);
    }
    expect(killed).toBe(true);
    await Promise.all([a, b].map((d) => waitLocalSeen(d, Object.keys(model))));
    await suite.restartServer();

    await waitForSameFolders([a, b], model, 60_000);
    for (const d of [a, b]) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} to match the server`, 30_000);
    for (let f = 0; f < 8; f++) expect(model[`burst/f${f}.md`]).toContain(`edit 5 of burst/f${f}.md`);
  });
});

describe('device crash', () => {
  it('a device stopped without shutdown restarts from its stored state and catches up', async () => {
    const dirB = tempDir('b');
    const a = await device('a', 'ws-crash');
    let b = await device('b', 'ws-crash', dirB);
    await Promise.all([a.job.waitUntilSynced(20_000), b.job.waitUntilSynced(20_000)]);
    writeFile(a.dir, 'keep.md', entryText({ title: 'Keep', body: '\nKept.\n' }));
    writeFile(a.dir, 'edit.md', entryText({ title: 'Edit', body: '\nBefore.\n' }));
    writeFile(a.dir, 'gone.md', entryText({ title: 'Gone', body: '\nTo be deleted.\n' }));
    writeFile(a.dir, 'old-name.md', entryText({ title: 'Renamed', body: '\nMoving.\n' }));
    await waitForSameFolders([a, b]);
    // Remote changes B wrote to disk just before it dies, likely before its next save.
    writeFile(a.dir, 'late.md', entryText({ title: 'Late', body: '\nArrived just before the crash.\n' }));
    writeFile(a.dir, 'keep.md', entryText({ title: 'Keep', body: '\nKept.\nAnd edited.\n' }));
    await waitForSameFolders([a, b]);

    await crashDevice(b);
    suite.untrack(b);

    // While B is down: A changes things, and B's own folder is edited too.
    writeFile(a.dir, 'edit.md', entryText({ title: 'Edit', body: '\nBefore.\nAfter, on A.\n' }));
    fs.rmSync(path.join(a.dir, 'gone.md'));
    fs.renameSync(path.join(a.dir, 'old-name.md'), path.join(a.dir, 'new-name.md'));
    writeFile(a.dir, 'created.md', entryText({ title: 'Created', body: '\nWhile B was down.\n' }));
    writeFile(dirB, 'from-b.md', entryText({ title: 'From B', body: '\nWritten while B was down.\n' }));
    await waitLocalSeen(a, ['edit.md', 'gone.md', 'old-name.md', 'new-name.md', 'created.md']);
    await waitFor(async () => (await a.job.verify()).length === 0, 'the server to hold A’s changes');

    b = await device('b', 'ws-crash', dirB);
    const files = await waitForSameFolders([a, b], undefined, 30_000);
    expect(Object.keys(files).sort()).toEqual(['created.md', 'edit.md', 'from-b.md', 'keep.md', 'late.md', 'new-name.md']);
    expect(files['edit.md']).toContain('\nBefore.\nAfter, on A.\n');
    expect(files['keep.md']).toContain('\nKept.\nAnd edited.\n');
    expect(folderSnapshot(dirB)).toEqual(folderSnapshot(a.dir));
    for (const d of [a, b]) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} to match the server`);
  });
});

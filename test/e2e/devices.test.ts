/**
 * Several devices (SyncJobs over their own folders) sync one workspace through
 * a real server process: every create, edit, rename, move, delete and front
 * matter change made in one folder shows up byte for byte in the others.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupTemp,
  createToken,
  entryText,
  folderSnapshot,
  readFile,
  startDevice,
  startServerProcess,
  stopDevice,
  tempDir,
  waitForSameFolders,
  writeFile,
  type Device,
  type ServerProcess,
} from './helpers';
import fs from 'node:fs';
import path from 'node:path';

let server: ServerProcess;
let token: string;
const devices: Device[] = [];

beforeAll(async () => {
  const dataDir = tempDir('server');
  token = await createToken(dataDir, 'alice');
  server = await startServerProcess(dataDir);
});
afterEach(async () => {
  await Promise.all(devices.splice(0).map(stopDevice));
});
afterAll(async () => {
  await server?.stop();
  cleanupTemp();
});

async function devicesFor(workspaceId: string, n: number): Promise<Device[]> {
  const out: Device[] = [];
  for (let i = 0; i < n; i++) {
    const d = await startDevice(`device${i + 1}`, tempDir(`dev${i + 1}`), { serverUrl: server.url, token, workspaceId });
    devices.push(d);
    out.push(d);
  }
  await Promise.all(out.map((d) => d.job.waitUntilSynced(20_000)));
  return out;
}

describe('two devices', () => {
  it('create, edit, rename, move, delete and front matter changes reach the other folder byte for byte', async () => {
    const [a, b] = await devicesFor('ws-two', 2);

    writeFile(a.dir, 'hello.md', entryText({ title: 'Hello', body: '\nFirst line.\n' }));
    writeFile(a.dir, 'notes/idea.md', entryText({ title: 'Idea', body: '\nAn idea.\n' }));
    let want = await waitForSameFolders([a, b]);
    expect(Object.keys(want)).toEqual(['hello.md', 'notes/idea.md']);

    // body edit
    writeFile(a.dir, 'hello.md', entryText({ title: 'Hello', body: '\nFirst line.\nSecond line.\n' }));
    want = await waitForSameFolders([a, b]);
    expect(want['hello.md']).toContain('Second line.');

    // front matter: title and extra keys
    writeFile(a.dir, 'notes/idea.md', entryText({ title: 'Big idea', extra: { mood: 'happy', tags: '[one, two]' }, body: '\nAn idea.\n' }));
    want = await waitForSameFolders([a, b]);
    expect(want['notes/idea.md']).toContain('title: Big idea');
    expect(want['notes/idea.md']).toContain('tags: [one, two]');

    // rename
    fs.renameSync(path.join(a.dir, 'hello.md'), path.join(a.dir, 'greeting.md'));
    want = await waitForSameFolders([a, b]);
    expect(Object.keys(want)).toEqual(['greeting.md', 'notes/idea.md']);

    // move to another folder
    fs.mkdirSync(path.join(a.dir, 'archive'));
    fs.renameSync(path.join(a.dir, 'notes', 'idea.md'), path.join(a.dir, 'archive', 'idea.md'));
    want = await waitForSameFolders([a, b]);
    expect(Object.keys(want).filter((k) => k.endsWith('.md'))).toEqual(['archive/idea.md', 'greeting.md']);

    // edits from the other side
    writeFile(b.dir, 'greeting.md', entryText({ title: 'Greeting', body: '\nFirst line.\nSecond line.\nFrom B.\n' }));
    want = await waitForSameFolders([a, b]);
    expect(want['greeting.md']).toContain('From B.');

    // delete
    fs.rmSync(path.join(b.dir, 'archive', 'idea.md'));
    await waitForSameFolders([a, b]);
    expect(readFile(a.dir, 'archive/idea.md')).toBeNull();
  });
});

describe('three devices', () => {
  it('changes made on any device reach both others byte for byte', async () => {
    const [a, b, c] = await devicesFor('ws-three', 3);

    writeFile(a.dir, 'index.md', entryText({ title: 'Index', contents: ['[Day](/days/day.md)'], body: '\n# Index\n' }));
    writeFile(a.dir, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', body: '\nMorning.\n' }));
    await waitForSameFolders([a, b, c]);

    writeFile(b.dir, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', body: '\nMorning.\nEvening.\n' }));
    writeFile(c.dir, 'todo.md', entryText({ title: 'Todo', extra: { priority: '1' }, body: '\n- [ ] write tests\n' }));
    const want = await waitForSameFolders([a, b, c]);
    expect(want['days/day.md']).toContain('Evening.');
    expect(want['todo.md']).toContain('priority: 1');

    fs.renameSync(path.join(c.dir, 'todo.md'), path.join(c.dir, 'tasks.md'));
    fs.rmSync(path.join(b.dir, 'days', 'day.md'));
    writeFile(a.dir, 'index.md', entryText({ title: 'Index', contents: [], extra: { status: 'done' }, body: '\n# Index\nAll done.\n' }));
    const end = await waitForSameFolders([a, b, c]);
    expect(Object.keys(end).filter((k) => k.endsWith('.md'))).toEqual(['index.md', 'tasks.md']);
    expect(folderSnapshot(a.dir)['index.md']).toContain('All done.');
  });
});

/**
 * Several devices (SyncJobs over their own folders) sync one workspace through
 * a real server process: every create, body edit, rename, move, delete and
 * front matter change made in one folder shows up byte for byte in the
 * others, and the server's snapshot holds the same bodies.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  e2eSuite,
  entryText,
  waitFor,
  waitForSameFolders,
  writeFile,
  type Device,
} from './helpers';

const suite = e2eSuite();

async function devicesFor(workspaceId: string, n: number): Promise<Device[]> {
  const out: Device[] = [];
  for (let i = 0; i < n; i++) {
    const d = await suite.device(`device${i + 1}`, workspaceId);
    out.push(d);
  }
  await Promise.all(out.map((d) => d.job.waitUntilSynced(20_000)));
  return out;
}

/** The folder model: what every device must hold, byte for byte. */
class Model {
  readonly files: Record<string, string> = {};
  write(device: Device, rel: string, text: string): void {
    writeFile(device.dir, rel, text);
    this.files[rel] = text;
  }
  move(device: Device, from: string, to: string): void {
    fs.mkdirSync(path.dirname(path.join(device.dir, to)), { recursive: true });
    fs.renameSync(path.join(device.dir, from), path.join(device.dir, to));
    this.files[to] = this.files[from];
    delete this.files[from];
  }
  remove(device: Device, rel: string): void {
    fs.rmSync(path.join(device.dir, rel));
    delete this.files[rel];
  }
  snapshot(): Record<string, string> {
    return { ...this.files };
  }
}

/** Every device holds exactly the model, and the server's snapshot agrees with each folder. */
async function converge(all: Device[], model: Model): Promise<void> {
  await waitForSameFolders(all, model.snapshot());
  for (const d of all) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} to match the server snapshot`);
}

describe('two devices', () => {
  it('create, edit, front matter, rename, move and delete reach the other folder byte for byte', async () => {
    const [a, b] = await devicesFor('ws-two', 2);
    const m = new Model();

    m.write(a, 'hello.md', entryText({ title: 'Hello', body: '\nFirst line.\n' }));
    m.write(a, 'notes/idea.md', entryText({ title: 'Idea', body: '\nAn idea.\n' }));
    await converge([a, b], m);

    // body edit (the editor moves `updated` too)
    m.write(a, 'hello.md', entryText({ title: 'Hello', body: '\nFirst line.\nSecond line.\n' }));
    await converge([a, b], m);

    // front matter: title and extra keys, body unchanged
    m.write(a, 'notes/idea.md', entryText({ title: 'Big idea', extra: { mood: 'happy', tags: '[one, two]' }, body: '\nAn idea.\n' }));
    await converge([a, b], m);

    // one extra key removed, another changed
    m.write(b, 'notes/idea.md', entryText({ title: 'Big idea', extra: { tags: '[one, two, three]' }, body: '\nAn idea.\n' }));
    await converge([a, b], m);

    // rename
    m.move(a, 'hello.md', 'greeting.md');
    await converge([a, b], m);

    // move to another folder
    m.move(a, 'notes/idea.md', 'archive/idea.md');
    await converge([a, b], m);

    // edits after the rename, from the other side
    m.write(b, 'greeting.md', entryText({ title: 'Greeting', body: '\nFirst line.\nSecond line.\nFrom B.\n' }));
    m.write(b, 'archive/idea.md', entryText({ title: 'Big idea', extra: { tags: '[one, two, three]' }, body: '\nAn idea, archived.\n' }));
    await converge([a, b], m);

    // delete
    m.remove(b, 'archive/idea.md');
    await converge([a, b], m);
    expect(Object.keys(m.files)).toEqual(['greeting.md']);

    // paths used before: a new file where a renamed one was, a re-created
    // deleted file, and a rename onto the old path of a moved file; none
    // brings back the old text
    m.write(a, 'hello.md', entryText({ title: 'Hello again', body: '\nBack.\n' }));
    m.write(b, 'archive/idea.md', entryText({ title: 'Another idea', body: '\nNew text.\n' }));
    await converge([a, b], m);
    m.move(b, 'greeting.md', 'notes/idea.md');
    await converge([a, b], m);
    expect(m.files['notes/idea.md']).toContain('From B.');
  });
});

describe('three devices', () => {
  it('changes made on any device reach both others byte for byte', async () => {
    const [a, b, c] = await devicesFor('ws-three', 3);
    const m = new Model();

    m.write(a, 'index.md', entryText({ title: 'Index', contents: ['[Day](/days/day.md)'], body: '\n# Index\n' }));
    m.write(a, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', body: '\nMorning.\n' }));
    await converge([a, b, c], m);

    m.write(b, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', body: '\nMorning.\nEvening.\n' }));
    m.write(c, 'todo.md', entryText({ title: 'Todo', extra: { priority: '1' }, body: '\n- [ ] write tests\n' }));
    await converge([a, b, c], m);

    m.move(c, 'todo.md', 'tasks.md');
    await converge([a, b, c], m);

    m.remove(b, 'days/day.md');
    m.write(a, 'index.md', entryText({ title: 'Index', contents: [], extra: { status: 'done' }, body: '\n# Index\nAll done.\n' }));
    await converge([a, b, c], m);

    m.write(c, 'tasks.md', entryText({ title: 'Tasks', description: 'What is left', extra: { priority: '2' }, body: '\n- [x] write tests\n' }));
    m.move(a, 'index.md', 'home/index.md');
    await converge([a, b, c], m);
    expect(Object.keys(m.files).sort()).toEqual(['home/index.md', 'tasks.md']);
  });
});

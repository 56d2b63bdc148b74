/**
 * Edits made while disconnected, and devices that join late:
 * - both devices edit the same file while the server is down, or while the
 *   devices themselves are stopped; after reconnecting both folders hold the
 *   same merged text with both edits;
 * - deletes, creates and renames made while a device was stopped reach it
 *   as they were made;
 * - a new device with an empty folder bootstraps from the server (snapshot)
 *   and then syncs live in both directions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  e2eSuite,
  entryText,
  readFile,
  stopDevice,
  tempDir,
  waitFor,
  waitForSameFolders,
  waitLocalSeen,
  writeFile,
} from './helpers';

const suite = e2eSuite();
const device = (name: string, workspaceId: string, dir?: string) => suite.device(name, workspaceId, { dir });

const BASE = '\nLine one.\nLine two.\nLine three.\n';
const MERGED = '\nLine one, edited on A.\nLine two.\nLine three, edited on B.\n';

/** Body of a file (after the front matter). */
function bodyOf(text: string | null): string | null {
  if (text === null) return null;
  const end = text.indexOf('\n---\n', 4);
  return end < 0 ? text : text.slice(end + 5);
}

describe('edits while disconnected', () => {
  it('both devices edit the same file while the server is down; after it is back both hold both edits', async () => {
    const a = await device('a', 'ws-server-down');
    const b = await device('b', 'ws-server-down');
    await Promise.all([a.job.waitUntilSynced(20_000), b.job.waitUntilSynced(20_000)]);
    writeFile(a.dir, 'shared.md', entryText({ title: 'Shared', body: BASE }));
    writeFile(a.dir, 'only-a.md', entryText({ title: 'Only A', body: '\nA.\n' }));
    await waitForSameFolders([a, b]);

    await suite.server.stop();
    await waitFor(() => a.job.status === 'disconnected' && b.job.status === 'disconnected', 'both devices to notice');
    writeFile(a.dir, 'shared.md', entryText({ title: 'Shared', body: '\nLine one, edited on A.\nLine two.\nLine three.\n' }));
    writeFile(b.dir, 'shared.md', entryText({ title: 'Shared', body: '\nLine one.\nLine two.\nLine three, edited on B.\n' }));
    writeFile(b.dir, 'offline-b.md', entryText({ title: 'Written offline on B', body: '\nB was here.\n' }));
    await Promise.all([waitLocalSeen(a, ['shared.md']), waitLocalSeen(b, ['shared.md', 'offline-b.md'])]);

    await suite.restartServer();
    const files = await waitForSameFolders([a, b], undefined, 30_000);
    expect(Object.keys(files).sort()).toEqual(['offline-b.md', 'only-a.md', 'shared.md']);
    expect(bodyOf(files['shared.md'])).toBe(MERGED);
    expect(bodyOf(files['offline-b.md'])).toBe('\nB was here.\n');
    for (const d of [a, b]) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} to match the server`);
  });

  it('both devices edit the same file while they are stopped; after restarting both hold both edits', async () => {
    const dirA = tempDir('a');
    const dirB = tempDir('b');
    let a = await device('a', 'ws-devices-down', dirA);
    let b = await device('b', 'ws-devices-down', dirB);
    await Promise.all([a.job.waitUntilSynced(20_000), b.job.waitUntilSynced(20_000)]);
    writeFile(b.dir, 'shared.md', entryText({ title: 'Shared', body: BASE }));
    await waitForSameFolders([a, b]);

    await stopDevice(a);
    await stopDevice(b);
    suite.untrack(a);
    suite.untrack(b);
    writeFile(dirA, 'shared.md', entryText({ title: 'Shared', body: '\nLine one, edited on A.\nLine two.\nLine three.\n' }));
    writeFile(dirB, 'shared.md', entryText({ title: 'Shared', body: '\nLine one.\nLine two.\nLine three, edited on B.\n' }));
    writeFile(dirA, 'new-on-a.md', entryText({ title: 'New on A', body: '\nMade while stopped.\n' }));

    a = await device('a', 'ws-devices-down', dirA);
    b = await device('b', 'ws-devices-down', dirB);
    const files = await waitForSameFolders([a, b], undefined, 30_000);
    expect(Object.keys(files).sort()).toEqual(['new-on-a.md', 'shared.md']);
    expect(bodyOf(files['shared.md'])).toBe(MERGED);
    for (const d of [a, b]) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} to match the server`);
  });
});

describe('changes made while a device was away', () => {
  it('a delete and an unrelated create are not mixed up as a rename; a real rename arrives intact', async () => {
    const dirB = tempDir('b');
    const a = await device('a', 'ws-away');
    let b = await device('b', 'ws-away', dirB);
    await Promise.all([a.job.waitUntilSynced(20_000), b.job.waitUntilSynced(20_000)]);
    writeFile(a.dir, 'old.md', entryText({ title: 'Old', body: '\nThe old file.\n' }));
    writeFile(a.dir, 'moving.md', entryText({ title: 'Moving', body: '\nA file that moves.\n' }));
    await waitForSameFolders([a, b]);
    await stopDevice(b);
    suite.untrack(b);

    // Deleted, and a new file in the same folder within seconds: the receiving
    // side pairs such entries as a rename (same parent, close times).
    fs.rmSync(path.join(a.dir, 'old.md'));
    await waitLocalSeen(a, ['old.md']);
    const created = entryText({ title: 'New', updated: Date.now(), body: '\nA new file, nothing to do with the old one.\n' });
    writeFile(a.dir, 'new.md', created);
    fs.renameSync(path.join(a.dir, 'moving.md'), path.join(a.dir, 'moved.md'));
    await waitLocalSeen(a, ['new.md', 'moving.md', 'moved.md']);
    await waitFor(async () => (await a.job.verify()).length === 0, 'the server to hold A’s changes');

    b = await device('b', 'ws-away', dirB);
    const files = await waitForSameFolders([a, b]);
    expect(Object.keys(files).sort()).toEqual(['moved.md', 'new.md']);
    expect(files['new.md']).toBe(created);
    expect(bodyOf(files['moved.md'])).toBe('\nA file that moves.\n');
    for (const d of [a, b]) await waitFor(async () => (await d.job.verify()).length === 0, `${d.name} to match the server`);
  });
});

describe('a new device', () => {
  it('bootstraps from the server with an empty folder, then syncs live both ways', async () => {
    const a = await device('a', 'ws-bootstrap');
    await a.job.waitUntilSynced(20_000);
    writeFile(a.dir, 'README.md', entryText({ title: 'My Journal', contents: ['[Day One](/days/day-one.md)'], body: '\n# My Journal\n' }));
    writeFile(a.dir, 'days/day-one.md', entryText({ title: 'Day One', partOf: '[README](/README.md)', body: '\nFirst day.\n' }));
    for (let i = 0; i < 5; i++) writeFile(a.dir, `notes/n${i}.md`, entryText({ title: `Note ${i}`, extra: { n: String(i) }, body: `\nNote number ${i}.\n` }));
    await waitLocalSeen(a, ['README.md', 'days/day-one.md', 'notes/n4.md']);
    await waitFor(async () => (await a.job.verify()).length === 0, 'the server to hold every file');

    const fresh = await device('fresh', 'ws-bootstrap');
    await fresh.job.waitUntilSynced(30_000);
    const files = await waitForSameFolders([a, fresh]);
    expect(Object.keys(files)).toHaveLength(7);

    writeFile(fresh.dir, 'days/day-two.md', entryText({ title: 'Day Two', partOf: '[README](/README.md)', body: '\nSecond day.\n' }));
    writeFile(a.dir, 'days/day-one.md', entryText({ title: 'Day One', partOf: '[README](/README.md)', body: '\nFirst day.\nMore.\n' }));
    await waitForSameFolders([a, fresh]);
    expect(readFile(a.dir, 'days/day-two.md')).toContain('Second day.');
    expect(readFile(fresh.dir, 'days/day-one.md')).toContain('More.');
  });
});

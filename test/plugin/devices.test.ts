/**
 * Devices named in history entries received from other devices: each device
 * registers its session's client id in the workspace doc (`devices` map) with
 * its first local change, and the history commands name the device of a
 * received entry from the client ids in its update.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../common/src/base64';
import { createFile, markdown, ok, openInitialised, useCleanup, type HistoryEntry } from './helpers';

useCleanup();

describe('device names in received history', () => {
  it('an update received from another device lists that device', async () => {
    const laptop = await openInitialised({ runtimeContext: { device_name: 'Laptop' } });
    const phone = await openInitialised({ runtimeContext: { device_name: 'Phone' } });
    await createFile(laptop, 'a.md', markdown('title: A', 'written on the laptop\n'));

    const ws = await ok<{ data: string }>(laptop, 'GetFullState');
    const body = await ok<{ data: string }>(laptop, 'GetBodyFullState', { doc_name: 'a.md' });
    await ok(phone, 'ApplyRemoteUpdate', { update: ws.data });
    await ok(phone, 'ApplyBodyUpdate', { doc_name: 'a.md', update: body.data });

    const own = await ok<HistoryEntry[]>(laptop, 'GetHistory', { doc_name: 'a.md' });
    expect(own[0]).toMatchObject({ origin: 'local', device_name: 'Laptop' });
    const received = await ok<HistoryEntry[]>(phone, 'GetHistory', { doc_name: 'a.md' });
    expect(received[0].origin).not.toBe('local');
    expect(received[0]).toMatchObject({ device_name: 'Laptop', device_id: own[0].device_id });
    const file = await ok<(HistoryEntry & { doc_name: string })[]>(phone, 'GetFileHistory', { file_path: 'a.md' });
    expect(file.map((e) => [e.doc_name, e.device_name]).sort()).toEqual([
      ['a.md', 'Laptop'],
      ['workspace', 'Laptop'],
    ]);
    // The registration itself is not a version of any file.
    const workspace = await ok<HistoryEntry[]>(laptop, 'GetHistory', { doc_name: 'workspace' });
    expect(workspace.every((e) => e.files_changed.length > 0)).toBe(true);
  });

  it('one entry names the device of many body docs (ids come in blocks), and each body doc still has its own id', async () => {
    const laptop = await openInitialised({ runtimeContext: { device_name: 'Laptop' } });
    const phone = await openInitialised({ runtimeContext: { device_name: 'Phone' } });
    const files = 40;
    for (let i = 0; i < files; i++) await createFile(laptop, `n${i}.md`, markdown(`title: N${i}`, `note ${i}\n`));
    const ws = new Y.Doc();
    Y.applyUpdate(ws, decodeBase64((await ok<{ data: string }>(laptop, 'GetFullState')).data));
    const entries = [...ws.getMap('devices').keys()];
    // The workspace doc's own id, one block for the 40 bodies, the device's name.
    expect(entries.filter((k) => k.startsWith('block:'))).toHaveLength(1);
    expect(entries).toHaveLength(3);
    const bodyClients = new Set<number>();
    for (let i = 0; i < files; i++) {
      const body = await ok<{ data: string }>(laptop, 'GetBodyFullState', { doc_name: `n${i}.md` });
      const doc = new Y.Doc();
      Y.applyUpdate(doc, decodeBase64(body.data));
      for (const client of Y.decodeStateVector(Y.encodeStateVector(doc)).keys()) bodyClients.add(client);
    }
    expect(bodyClients.size).toBe(files);

    // A received body edit is named by the block entry.
    await ok(phone, 'ApplyRemoteUpdate', { update: (await ok<{ data: string }>(laptop, 'GetFullState')).data });
    await ok(phone, 'ApplyBodyUpdate', { doc_name: 'n7.md', update: (await ok<{ data: string }>(laptop, 'GetBodyFullState', { doc_name: 'n7.md' })).data });
    const received = await ok<HistoryEntry[]>(phone, 'GetHistory', { doc_name: 'n7.md' });
    expect(received[0]).toMatchObject({ device_name: 'Laptop' });
  });
});

/**
 * Devices named in history entries received from other devices: each device
 * registers its session's client id in the workspace doc (`devices` map) with
 * its first local change, and the history commands name the device of a
 * received entry from the client ids in its update.
 */
import { describe, expect, it } from 'vitest';
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
});

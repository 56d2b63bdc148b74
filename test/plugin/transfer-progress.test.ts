/**
 * Progress of snapshot uploads and downloads through the built plugin:
 * SyncProgress events while the zip is built file by file and while the
 * downloaded files are imported (starting at 0, increasing, ending at the
 * total, at most about 100 per phase), the phase order around the single
 * HTTP request, and GetSyncStatus back to normal once the transfer is over.
 */
import { strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { HttpRequest, HttpResponse } from '../../common/src/host-json';
import type { WorkspaceHost } from '../../host-harness/src/workspace-host';
import { fails, fileExists, markdown, ok, openInitialised, readFile, useCleanup, writeFile } from './helpers';

useCleanup();

interface Progress {
  completed: number;
  total: number;
}

function progressEvents(events: unknown[], from = 0): Progress[] {
  return events
    .slice(from)
    .filter((e): e is { type: string; completed: number; total: number } => !!e && typeof e === 'object' && (e as { type?: unknown }).type === 'SyncProgress')
    .map((e) => ({ completed: e.completed, total: e.total }));
}

/** Checks one per-file phase: 0 first, strictly increasing, `total` last, the same total throughout. */
function expectPhase(events: Progress[], total: number): void {
  expect(events.length).toBeGreaterThan(1);
  expect(events[0]).toEqual({ completed: 0, total });
  expect(events[events.length - 1]).toEqual({ completed: total, total });
  for (let i = 1; i < events.length; i++) {
    expect(events[i].total).toBe(total);
    expect(events[i].completed).toBeGreaterThan(events[i - 1].completed);
  }
  expect(events.length).toBeLessThanOrEqual(102);
}

const SERVER = 'http://sync.invalid';

describe('snapshot upload progress', () => {
  it('counts the files of the zip, then sends it in one request; the status is back to normal afterwards', async () => {
    const uploads: { zip: Uint8Array; eventsBefore: number }[] = [];
    let ws: WorkspaceHost | null = null;
    ws = await openInitialised({
      http: (req: HttpRequest): HttpResponse => {
        uploads.push({ zip: Buffer.from(req.body_base64 ?? '', 'base64'), eventsBefore: ws!.events.length });
        return { status: 200, headers: {}, body: '{}' };
      },
    });
    const count = 250;
    for (let i = 0; i < count; i++) writeFile(ws.dir, `notes/n${String(i).padStart(3, '0')}.md`, markdown(`title: Note ${i}`, `text ${i}\n`));
    writeFile(ws.dir, 'img/pic.png', 'PNGDATA');
    writeFile(ws.dir, '.hidden/skip.md', 'not in the snapshot');
    const from = ws.events.length;

    const res = await ok<{ files_uploaded: number; snapshot_uploaded: boolean }>(ws, 'UploadWorkspaceSnapshot', { remote_id: 'ws-1', server_url: SERVER });
    const total = count + 1;
    expect(res).toMatchObject({ files_uploaded: total, snapshot_uploaded: true });

    expect(uploads).toHaveLength(1);
    const entries = unzipSync(uploads[0].zip);
    expect(Object.keys(entries)).toHaveLength(total);
    expect(new TextDecoder().decode(entries['notes/n007.md'])).toContain('text 7');
    expect(new TextDecoder().decode(entries['img/pic.png'])).toBe('PNGDATA');

    const events = progressEvents(ws.events, from);
    expectPhase(events, total);
    // The zip was complete before the request went out, and nothing was reported after it.
    expect(progressEvents(ws.events.slice(0, uploads[0].eventsBefore), from)).toEqual(events);

    const status = await ok<{ state: string; progress: unknown }>(ws, 'GetSyncStatus');
    expect(status).toMatchObject({ state: 'idle', progress: null });
  });

  it('a refused upload fails with the server error and leaves no transfer in the status', async () => {
    const ws = await openInitialised({ http: () => ({ status: 500, headers: {}, body: 'disk full' }) });
    writeFile(ws.dir, 'a.md', markdown('title: A', 'a\n'));
    const res = await fails(ws, 'UploadWorkspaceSnapshot', { remote_id: 'ws-1', server_url: SERVER });
    expect(res.error).toBe('HTTP 500: disk full');
    expectPhase(progressEvents(ws.events), 1);
    expect(await ok(ws, 'GetSyncStatus')).toMatchObject({ state: 'idle', label: 'Idle' });
  });
});

describe('snapshot download progress', () => {
  it('receives the zip in one request, then imports it file by file', async () => {
    const count = 40;
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < count; i++) files[`d/f${i}.md`] = strToU8(markdown(`title: F${i}`, `server ${i}\n`));
    const zip = zipSync(files);
    let ws: WorkspaceHost | null = null;
    let progressAtRequest: Progress[] | null = null;
    ws = await openInitialised({
      http: () => {
        progressAtRequest = progressEvents(ws!.events);
        return { status: 200, headers: { 'content-type': 'application/zip' }, body: '', body_base64: Buffer.from(zip).toString('base64') };
      },
    });
    const res = await ok<{ files_imported: number }>(ws, 'DownloadWorkspace', { remote_id: 'ws-1', server_url: SERVER });
    expect(res.files_imported).toBe(count);
    expect(progressAtRequest).toEqual([]);
    expectPhase(progressEvents(ws.events), count);
    expect(progressEvents(ws.events)).toHaveLength(count + 1);
    expect(readFile(ws.dir, 'd/f39.md')).toContain('server 39');
    expect(fileExists(ws.dir, 'd/f0.md')).toBe(true);
    expect(await ok(ws, 'GetSyncStatus')).toMatchObject({ state: 'idle', progress: null });
  });
});

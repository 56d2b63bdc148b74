/**
 * The size limit through the built .wasm: a local file over 8 MiB is not read
 * into the CRDT and the host gets one `FileSkipped` event naming the file and
 * the limit; a synced file that grows over it keeps its last version, and a
 * delete of it is a normal delete; the same file back under the limit syncs.
 */
import { describe, expect, it } from 'vitest';
import { bodyOf, createFile, listFiles, markdown, ok, openInitialised, useCleanup } from './helpers';

useCleanup();

const LIMIT = 8 * 1024 * 1024;

describe('file size limit', () => {
  it('an oversize file is skipped with one FileSkipped event; a grown file keeps its last version; deleting it is a delete', async () => {
    const ws = await openInitialised();
    await createFile(ws, 'small.md', markdown('title: Small', 'fits\n'));
    const huge = markdown('title: Huge', 'x'.repeat(LIMIT + 1));
    await createFile(ws, 'huge.md', huge);
    await createFile(ws, 'huge.md', huge, 'file_saved');

    const skipped = ws.events.filter((e) => (e as { type?: string }).type === 'FileSkipped');
    expect(skipped).toEqual([
      {
        type: 'FileSkipped',
        path: 'huge.md',
        size: huge.length,
        limit: LIMIT,
        reason: 'too_large',
        message: `huge.md is ${huge.length} bytes, over the 8 MiB limit for one file: not synced (the rest keeps syncing)`,
      },
    ]);
    expect((await listFiles(ws)).map(([p]) => p)).toEqual(['small.md']);

    // Grows over the limit: the last synced text stays; the delete goes through.
    await createFile(ws, 'small.md', markdown('title: Small', 'y'.repeat(20 * 1024 * 1024)), 'file_saved');
    expect(await bodyOf(ws, 'small.md')).toBe('fits\n');
    const grown = ws.events.filter((e) => (e as { type?: string }).type === 'FileSkipped');
    expect(grown).toHaveLength(2);
    expect(grown[1]).toMatchObject({ path: 'small.md', message: 'small.md is 20 MiB, over the 8 MiB limit for one file: not synced (the rest keeps syncing)' });
    await ws.plugin.event('file_deleted', { path: 'small.md' });
    expect((await listFiles(ws, true)).find(([p]) => p === 'small.md')?.[1]).toMatchObject({ deleted: true });

    // Back under the limit: it syncs like any file.
    await createFile(ws, 'huge.md', markdown('title: Huge', 'now small\n'), 'file_saved');
    expect(await bodyOf(ws, 'huge.md')).toBe('now small\n');
  });
});

describe('history budget', () => {
  it('one large change costs only its own file older versions, and GetHistoryRetention says what went', async () => {
    const ws = await openInitialised();
    for (let i = 0; i < 35; i++) await createFile(ws, `n${i}.md`, markdown(`title: N${i}`, `text ${i}\n`));
    const count = async () => (await ok<unknown[]>(ws, 'GetWorkspaceHistory', { limit: 1000 })).length;
    const before = await count();
    expect(before).toBeGreaterThanOrEqual(70);
    await createFile(ws, 'big.md', markdown('title: Big', 'z'.repeat(5 * 1024 * 1024)));
    // Every earlier version is still there (plus big.md's metadata entry); big.md's text version went into its base.
    expect(await count()).toBeGreaterThanOrEqual(before + 1);
    const retention = await ok<{ history_bytes: number; dropped_versions: number; dropped_from: string[] }>(ws, 'GetHistoryRetention');
    expect(retention.dropped_from).toEqual(['big.md']);
    expect(retention.dropped_versions).toBe(1);
    expect(retention.history_bytes).toBeLessThan(1024 * 1024);
    expect(await bodyOf(ws, 'big.md')).toHaveLength(5 * 1024 * 1024);
  });
});

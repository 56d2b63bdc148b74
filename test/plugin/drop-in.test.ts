/**
 * Command JSON that a host written for the Rust plugin relies on, through the
 * built plugin: HandleSyncMessage's answers, the write_to_disk default of the
 * delegated sync commands, CreateWorkspaceUpdate's since_state_vector,
 * CreateBodyUpdate, SetCrdtFile's attachment merge, Ns* answers that are not
 * JSON, and DownloadWorkspace's workspace_root.
 */
import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../common/src/base64';
import type { HttpRequest, HttpResponse } from '../../common/src/host-json';
import { decodeSyncMessages, encodeSyncStep1, encodeSyncStep2 } from '../../common/src/wire/sync';
import { fails, fileExists, markdown, ok, openInitialised, rawCommand, readFile, useCleanup } from './helpers';

useCleanup();

const SERVER = 'http://sync.invalid';
const b64 = (bytes: Uint8Array) => encodeBase64(bytes);

describe('HandleSyncMessage', () => {
  it('answers null without a reply, and a SyncStep1 with the SyncStep2 and its own SyncStep1', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetCrdtFile', { path: 'a.md', metadata: { title: 'A' } });
    const noReply = await rawCommand(ws, 'HandleSyncMessage', { doc_name: 'workspace', message: b64(encodeSyncStep2(Uint8Array.of(0, 0))) });
    expect(noReply).toBe('{"success":true,"data":null,"error":null}');

    const sv = decodeBase64((await ok<{ data: string }>(ws, 'GetSyncState')).data);
    for (const docName of ['workspace', 'w1:workspace']) {
      const res = await ok<{ data: string }>(ws, 'HandleSyncMessage', { doc_name: docName, message: b64(encodeSyncStep1(Uint8Array.of(0))) });
      const replies = decodeSyncMessages(decodeBase64(res.data));
      expect(replies.map((m) => m.kind)).toEqual(['step2', 'step1']);
      expect(replies[1].kind === 'step1' && Array.from(replies[1].stateVector)).toEqual(Array.from(sv));
    }
    // A body doc answers the same way.
    await ok(ws, 'SetBodyContent', { doc_name: 'a.md', content: 'text' });
    const body = await ok<{ data: string }>(ws, 'HandleSyncMessage', { doc_name: 'a.md', message: b64(encodeSyncStep1(Uint8Array.of(0))) });
    expect(decodeSyncMessages(decodeBase64(body.data)).map((m) => m.kind)).toEqual(['step2', 'step1']);
  });

  it('writes remote changes to disk only when write_to_disk is true (false unless given)', async () => {
    const source = await openInitialised();
    const target = await openInitialised();
    const update = async (path: string) => {
      await ok(source, 'SetCrdtFile', { path, metadata: { title: path } });
      const full = (await ok<{ data: string }>(source, 'GetFullState')).data;
      return (await ok<{ data: string }>(source, 'CreateUpdateMessage', { update: full })).data;
    };
    await ok(target, 'HandleSyncMessage', { doc_name: 'workspace', message: await update('quiet.md') });
    expect(await ok(target, 'GetCrdtFile', { path: 'quiet.md' })).toMatchObject({ title: 'quiet.md' });
    expect(fileExists(target.dir, 'quiet.md')).toBe(false);
    await ok(target, 'HandleSyncMessage', { doc_name: 'workspace', message: await update('written.md'), write_to_disk: true });
    expect(readFile(target.dir, 'written.md')).toContain('title: written.md');
    await ok(target, 'HandleWorkspaceSyncMessage', { message: await update('quiet-2.md') });
    expect(fileExists(target.dir, 'quiet-2.md')).toBe(false);
  });
});

describe('updates a host asks for', () => {
  it('CreateWorkspaceUpdate sends only what a peer at since_state_vector lacks', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetCrdtFile', { path: 'a.md', metadata: { title: 'A' } });
    const sv = (await ok<{ data: string }>(ws, 'GetSyncState')).data;
    await ok(ws, 'SetCrdtFile', { path: 'b.md', metadata: { title: 'B' } });
    const full = decodeBase64((await ok<{ data: string }>(ws, 'CreateWorkspaceUpdate', {})).data);
    const since = decodeBase64((await ok<{ data: string }>(ws, 'CreateWorkspaceUpdate', { since_state_vector: sv })).data);
    expect(since.length).toBeLessThan(full.length);
    const now = (await ok<{ data: string }>(ws, 'GetSyncState')).data;
    const nothing = decodeSyncMessages(decodeBase64((await ok<{ data: string }>(ws, 'CreateWorkspaceUpdate', { since_state_vector: now })).data));
    expect(nothing.map((m) => m.kind === 'update' && Array.from(m.update))).toEqual([[0, 0]]);
    expect((await fails(ws, 'CreateWorkspaceUpdate', { since_state_vector: 'AAA' })).error).toMatch(/^Plugin command error: Invalid base64/);
  });

  it('CreateBodyUpdate tracks the content (an echo of it is recognised) and returns the whole state', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetBodyContent', { doc_name: 'a.md', content: 'first' });
    const res = await ok<{ data: string }>(ws, 'CreateBodyUpdate', { doc_name: 'a.md', content: 'first and second' });
    const [msg] = decodeSyncMessages(decodeBase64(res.data));
    const full = (await ok<{ data: string }>(ws, 'GetBodyFullState', { doc_name: 'a.md' })).data;
    expect(msg.kind === 'update' && b64(msg.update)).toBe(full);
    expect(await ok(ws, 'IsEcho', { path: 'a.md', content: 'first and second' })).toEqual({ is_echo: true });
  });
});

describe('SetCrdtFile attachment refs', () => {
  const ref = (path: string, hash: string) => ({ path, source: hash ? 'https://files/x' : 'local', hash, mime_type: hash ? 'image/png' : '', size: hash ? 3 : 0, uploaded_at: hash ? 1 : null, deleted: false });
  it('keeps the existing refs when none are given, fills a given ref without a hash, does not add refs the host left out', async () => {
    const ws = await openInitialised();
    await ok(ws, 'SetCrdtFile', { path: 'a.md', metadata: { title: 'A', attachments: [ref('img.png', 'abc'), ref('old.png', 'def')] } });
    await ok(ws, 'SetCrdtFile', { path: 'a.md', metadata: { title: 'A 2' } });
    const kept = await ok<{ attachments: { path: string }[] }>(ws, 'GetCrdtFile', { path: 'a.md' });
    expect(kept.attachments.map((a) => a.path)).toEqual(['img.png', 'old.png']);
    await ok(ws, 'SetCrdtFile', { path: 'a.md', metadata: { title: 'A 3', attachments: [ref('img.png', ''), ref('new.png', '')] } });
    const merged = await ok<{ attachments: Record<string, unknown>[] }>(ws, 'GetCrdtFile', { path: 'a.md' });
    expect(merged.attachments).toEqual([ref('img.png', 'abc'), ref('new.png', '')]);
  });
});

describe('namespace answers that are not JSON', () => {
  it('fail with the original messages instead of answering null', async () => {
    const ws = await openInitialised({ http: (): HttpResponse => ({ status: 200, headers: {}, body: '<html>login</html>' }) });
    expect((await fails(ws, 'NsCreateNamespace', { namespace_id: 'n', server_url: SERVER })).error).toBe('Invalid namespace response');
    for (const [command, params] of [
      ['NsListNamespaces', {}],
      ['NsListObjects', { namespace_id: 'n' }],
      ['NsPutObject', { namespace_id: 'n', key: 'k', body: 'x' }],
      ['NsCreateSession', { namespace_id: 'n' }],
      ['NsGetSession', { code: 'C' }],
    ] as const) {
      expect((await fails(ws, command, { ...params, server_url: SERVER })).error, command).toBe('Invalid response');
    }
    // Answers without a body by design stay null.
    expect(await ok(ws, 'NsDeleteObject', { namespace_id: 'n', key: 'k', server_url: SERVER })).toBeNull();
  });
});

describe('DownloadWorkspace workspace_root', () => {
  it('writes the files into the folder given (the folder of a root index file)', async () => {
    const zip = zipSync({ 'README.md': strToU8(markdown('title: Root', 'root\n')), 'notes/a.md': strToU8(markdown('title: A', 'a\n')) });
    const ws = await openInitialised({
      http: (req: HttpRequest): HttpResponse => {
        expect(req.method).toBe('GET');
        return { status: 200, headers: {}, body: '', body_base64: b64(zip) };
      },
    });
    expect(await ok(ws, 'DownloadWorkspace', { remote_id: 'r1', server_url: SERVER, workspace_root: 'imported/README.md' })).toEqual({ files_imported: 2 });
    expect(readFile(ws.dir, 'imported/README.md')).toContain('root');
    expect(readFile(ws.dir, 'imported/notes/a.md')).toContain('title: A');
    expect(fileExists(ws.dir, 'README.md')).toBe(false);
  });
});

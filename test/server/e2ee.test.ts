/**
 * End-to-end encrypted workspaces through a running server: the key record
 * routes, the e2e: protocol with raw clients sending envelopes of real headers
 * and random sealed bytes, and the refusal of everything plain.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { e2eeDocId, e2eeWorkspaceDocId, RefusedCode, SnapshotStatus } from '../../common/src/e2ee/frames';
import type { ServerOptions } from '../../server/src/options';
import { TestClient } from './helpers/client';
import { E2eeClient, keyRecord, newDevice, randomTag, snapshotEnvelope, updateEnvelope } from './helpers/e2ee-client';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';

let ts: TestServer;
let token: string;
let ws: string;
const clients: { close(): Promise<void> }[] = [];

async function start(options: Partial<ServerOptions> = {}): Promise<void> {
  ts = await startTestServer(options);
  token = ts.server.createToken('alice');
  ws = await newWorkspace('Journal');
}

async function newWorkspace(name: string, t = token): Promise<string> {
  const res = await api('/api/workspaces', { method: 'POST', body: JSON.stringify({ name }), token: t });
  return ((await res.json()) as { id: string }).id;
}

function api(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const t = init.token === undefined ? token : init.token;
  const headers = new Headers(init.headers);
  if (t) headers.set('Authorization', `Bearer ${t}`);
  return fetch(`${ts.server.url}${path}`, { ...init, headers });
}

function putKeys(workspaceId: string, record: unknown, t = token): Promise<Response> {
  return api(`/api/workspaces/${encodeURIComponent(workspaceId)}/keys`, { method: 'PUT', body: JSON.stringify(record), token: t });
}

async function encrypt(workspaceId = ws): Promise<void> {
  const res = await putKeys(workspaceId, keyRecord(0));
  expect(res.status).toBe(200);
}

async function e2eeClient(t = token): Promise<E2eeClient> {
  const c = await E2eeClient.connect(ts.wsUrl, t);
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await ts?.dispose();
});

describe('key record routes', () => {
  beforeEach(() => start());

  it('stores the first record with gen 0, then only the record carrying the current gen (409 with the current one)', async () => {
    expect((await api(`/api/workspaces/${ws}/keys`)).status).toBe(404);
    const first = keyRecord(0);
    const r1 = await putKeys(ws, first);
    expect(r1.status).toBe(200);
    const stored = (await r1.json()) as Record<string, unknown>;
    expect(stored).toEqual({ ...first, gen: 1 });
    const got = await api(`/api/workspaces/${ws}/keys`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(stored);

    const stale = await putKeys(ws, keyRecord(0));
    expect(stale.status).toBe(409);
    expect(await stale.json()).toEqual(stored);

    // A passphrase change: new salt and wrapping, same epoch, carrying gen 1.
    const changed = keyRecord(1, { kdf: { alg: 'scrypt', log2n: 15, r: 8, p: 1, salt: Buffer.alloc(16, 3).toString('base64') } });
    const r2 = await putKeys(ws, changed);
    expect(r2.status).toBe(200);
    expect(await r2.json()).toEqual({ ...changed, gen: 2 });
    // Rotation to epoch 2 brings a ring of the older key.
    const rotated = keyRecord(2, { epoch: 2, ring: { nonce: Buffer.alloc(24).toString('base64'), ct: Buffer.alloc(52).toString('base64') } });
    expect((await putKeys(ws, rotated)).status).toBe(200);
    expect(((await (await api(`/api/workspaces/${ws}/keys`)).json()) as { gen: number }).gen).toBe(3);
  });

  it('refuses records of the wrong shape or size with 400 and stores nothing', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...keyRecord(0), v: 2 }, /v must be 1/],
      [{ ...keyRecord(0), extra: 1 }, /unknown field "extra"/],
      [{ ...keyRecord(0), nonce: Buffer.alloc(12).toString('base64') }, /nonce decodes to 12 bytes/],
      [{ ...keyRecord(0), wrapped: 'not base64!' }, /wrapped must be padded base64/],
      [{ ...keyRecord(0), kdf: { alg: 'argon2id', m: 1024, t: 2, p: 1, salt: Buffer.alloc(16).toString('base64') } }, /kdf.m must be/],
      [{ ...keyRecord(0), kdf: { alg: 'pbkdf2', salt: '' } }, /kdf.alg/],
      [{ ...keyRecord(0), epoch: 2 }, /ring is null exactly while epoch is 1/],
      [{ ...keyRecord(0), gen: -1 }, /gen must be/],
    ];
    for (const [record, message] of bad) {
      const res = await putKeys(ws, record);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    expect((await api(`/api/workspaces/${ws}/keys`, { method: 'PUT', body: '{"v":' })).status).toBe(400);
    expect((await api(`/api/workspaces/${ws}/keys`, { method: 'PUT', body: 'x'.repeat(70_000) })).status).toBe(413);
    expect((await api(`/api/workspaces/${ws}/keys`)).status).toBe(404);
    // A jump of two epochs is refused too.
    await encrypt();
    const jump = await putKeys(ws, keyRecord(1, { epoch: 3, ring: { nonce: Buffer.alloc(24).toString('base64'), ct: Buffer.alloc(52).toString('base64') } }));
    expect(jump.status).toBe(400);
  });

  it('answers 404 to anyone but the owner', async () => {
    const bob = ts.server.createToken('bob');
    await encrypt();
    expect((await api(`/api/workspaces/${ws}/keys`, { token: bob })).status).toBe(404);
    expect((await putKeys(ws, keyRecord(1), bob)).status).toBe(404);
    expect((await api(`/api/workspaces/${ws}/keys`, { token: null })).status).toBe(401);
  });

  it('takes a first PUT on a new workspace id as its first use: the id becomes the caller\'s, encrypted', async () => {
    const bob = ts.server.createToken('bob');
    // GET does not create: an unknown id is 404 like another user's.
    expect((await api('/api/workspaces/chosen-id/keys')).status).toBe(404);
    expect((await api('/api/workspaces')).ok).toBe(true);
    expect(((await (await api('/api/workspaces')).json()) as { id: string }[]).map((w) => w.id)).not.toContain('chosen-id');
    const res = await putKeys('chosen-id', keyRecord(0));
    expect(res.status).toBe(200);
    expect(((await (await api('/api/workspaces')).json()) as { id: string }[]).map((w) => w.id)).toContain('chosen-id');
    expect((await api('/api/workspaces/chosen-id/keys')).status).toBe(200);
    // Now alice's: bob neither reads nor replaces it, nor claims a taken id.
    expect((await putKeys('chosen-id', keyRecord(1), bob)).status).toBe(404);
    expect((await api('/api/workspaces/chosen-id/keys', { token: bob })).status).toBe(404);
  });

  it('does not create a workspace by PUT when the server creates none on first use', async () => {
    await ts.dispose();
    await start({ createWorkspaces: false });
    expect((await putKeys('chosen-id', keyRecord(0))).status).toBe(404);
    expect(((await (await api('/api/workspaces')).json()) as { id: string }[]).map((w) => w.id)).not.toContain('chosen-id');
  });

  it('encrypts only a workspace without plain documents', async () => {
    const plain = await TestClient.connect(ts.wsUrl, token);
    clients.push(plain);
    plain.sendStep1(`body:${ws}/a.md`);
    plain.doc(`body:${ws}/a.md`).getText('body').insert(0, 'hello');
    await waitFor(async () => (await ts.server.core.read(`body:${ws}/a.md`, (d) => d.getText('body').toString())) === 'hello', 'stored body');
    const res = await putKeys(ws, keyRecord(0));
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toMatch(/already has unencrypted documents/);
    expect((await api(`/api/workspaces/${ws}/keys`)).status).toBe(404);
  });
});

describe('an encrypted workspace', () => {
  beforeEach(() => start());

  it('refuses workspace: and body: frames and snapshot zips (409)', async () => {
    await encrypt();
    const plain = await TestClient.connect(ts.wsUrl, token);
    clients.push(plain);
    plain.sendStep1(`workspace:${ws}`);
    plain.sendStep1(`body:${ws}/a.md`);
    await waitFor(() => plain.texts.length >= 2, 'two refusals');
    for (const t of plain.texts) expect(JSON.parse(t)).toMatchObject({ type: 'error', message: expect.stringMatching(/end-to-end encrypted/) });
    expect(plain.texts.some((t) => t.includes('file_manifest'))).toBe(false);
    expect(plain.frames).toEqual([]);
    expect(ts.server.core.isLoaded(`workspace:${ws}`)).toBe(false);
    for (const init of [{}, { method: 'POST', body: new Uint8Array([80, 75, 5, 6]) }]) {
      const res = await api(`/api/workspaces/${ws}/snapshot`, init);
      expect(res.status).toBe(409);
      expect(await res.json()).toEqual({ error: 'workspace is end-to-end encrypted' });
    }
  });

  it('refuses a plain doc that loads after the workspace was encrypted (a client authenticated before the key record)', async () => {
    await encrypt();
    // What a plain client that passed the check before the PUT reaches next: the load of its doc.
    await expect(ts.server.core.read(`body:${ws}/late.md`, (d) => d.getText('body').toString())).rejects.toThrow(/end-to-end encrypted/);
    await expect(ts.server.core.read(ws, () => 0)).rejects.toThrow(/end-to-end encrypted/);
    expect(ts.server.core.isLoaded(`body:${ws}/late.md`)).toBe(false);
    // Another workspace's plain docs load as before.
    const other = await newWorkspace('Plain');
    expect(await ts.server.core.read(`body:${other}/a.md`, (d) => d.getText('body').toString())).toBe('');
  });

  it('is the only kind of workspace that takes e2e: frames', async () => {
    const c = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    expect(await c.append(doc, updateEnvelope(newDevice(), 1))).toMatchObject({ type: 'refused', code: RefusedCode.NotAllowed });
    await waitFor(() => c.texts.length > 0, 'error text');
    expect(JSON.parse(c.texts[0]).message).toMatch(/not end-to-end encrypted/);
    // Another user's encrypted workspace is refused as well.
    await encrypt();
    const bob = await e2eeClient(ts.server.createToken('bob'));
    expect(await bob.append(doc, updateEnvelope(newDevice(), 1))).toMatchObject({ type: 'refused', code: RefusedCode.NotAllowed });
    expect(await c.append(doc, updateEnvelope(newDevice(), 1), 99)).toEqual({ type: 'appended', req: 99, seq: 1 });
  });
});

describe('the e2e: protocol', () => {
  beforeEach(async () => {
    await start();
    await encrypt();
  });

  it('appends with per-doc seqs, relays to the other clients after commit, and pulls after a cursor', async () => {
    const a = await e2eeClient();
    const b = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    const other = e2eeDocId(ws, randomTag());
    expect(await b.pull(doc, 0)).toEqual({ type: 'batch', head: 0, more: false, snapshot: null, envelopes: [] });
    const dev = newDevice();
    const envs = [1, 2, 3].map((ctr) => updateEnvelope(dev, ctr));
    for (let i = 0; i < 3; i++) expect(await a.append(doc, envs[i])).toMatchObject({ type: 'appended', seq: i + 1 });
    expect(await a.append(other, updateEnvelope(dev, 1))).toMatchObject({ type: 'appended', seq: 1 });
    await waitFor(() => b.of('relay', doc).length === 3, 'three relays');
    expect(b.of('relay', doc)).toEqual(envs.map((env, i) => ({ type: 'relay', seq: i + 1, env })));
    // b never opened `other`, a never gets its own envelopes back.
    expect(b.of('relay', other)).toEqual([]);
    expect(a.of('relay')).toEqual([]);
    const batch = await b.pull(doc, 1);
    expect(batch).toEqual({ type: 'batch', head: 3, more: false, snapshot: null, envelopes: [{ seq: 2, env: envs[1] }, { seq: 3, env: envs[2] }] });
  });

  it('answers a resend with the first seq and a reused counter with other bytes with Refused 3', async () => {
    const a = await e2eeClient();
    const b = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    await b.pull(doc, 0);
    const dev = newDevice();
    const env = updateEnvelope(dev, 1);
    expect(await a.append(doc, env)).toMatchObject({ type: 'appended', seq: 1 });
    expect(await a.append(doc, updateEnvelope(dev, 2))).toMatchObject({ type: 'appended', seq: 2 });
    // After a reconnect the device resends unchanged.
    const again = await e2eeClient();
    expect(await again.append(doc, env)).toMatchObject({ type: 'appended', seq: 1 });
    expect(await again.append(doc, updateEnvelope(dev, 1))).toMatchObject({ type: 'refused', code: RefusedCode.CounterConflict });
    // A new run of the same device starts its counters again.
    expect(await again.append(doc, updateEnvelope({ ...dev, run: 2 }, 1))).toMatchObject({ type: 'appended', seq: 3 });
    await waitFor(() => b.of('relay', doc).length === 3, 'relays');
    expect(b.of('relay', doc).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect((await b.pull(doc, 0)).envelopes.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('refuses bad frames with Refused 2, storing nothing', async () => {
    const a = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    const dev = newDevice();
    const good = updateEnvelope(dev, 1);
    const wrongVersion = good.slice();
    wrongVersion[0] = 2;
    const notABucket = good.slice(0, good.length - 1);
    const counterZero = updateEnvelope(dev, 1);
    counterZero.fill(0, 26, 30);
    const snapshotKind = snapshotEnvelope(dev, new Uint8Array(16).fill(1), new Uint8Array(16), 1);
    for (const env of [wrongVersion, notABucket, counterZero, snapshotKind, new Uint8Array(0)]) {
      expect(await a.append(doc, env)).toMatchObject({ type: 'refused', code: RefusedCode.Malformed });
    }
    // A y-sync payload, a truncated Append, and an Append to the whole-workspace id.
    a.sendRaw(doc, Uint8Array.of(0, 0, 1, 0));
    a.sendRaw(doc, Uint8Array.of(0x40, 77, 200, 1, 1));
    a.send(e2eeWorkspaceDocId(ws), { type: 'append', req: 78, env: good });
    expect(await a.answer(doc, 77)).toMatchObject({ type: 'refused', code: RefusedCode.Malformed });
    expect(await a.answer(e2eeWorkspaceDocId(ws), 78)).toMatchObject({ type: 'refused', code: RefusedCode.Malformed });
    // A doc tag that is not 22 base64url characters.
    expect(await a.append(`e2e:${ws}/short`, good, 79)).toMatchObject({ type: 'refused', code: RefusedCode.Malformed });
    await waitFor(() => a.of('refused', doc).some((r) => r.req === 0), 'refusal of the y-sync payload');
    expect(await a.pull(doc, 0)).toMatchObject({ head: 0, envelopes: [] });
    expect((await a.changes(e2eeWorkspaceDocId(ws), 0)).changeHead).toBe(0);
    expect(await a.append(doc, good)).toMatchObject({ type: 'appended', seq: 1 });
  });

  it('cuts a Batch at 4 MiB with flag 2 and continues after the last seq', async () => {
    const a = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    const dev = newDevice();
    const envs = [1, 2, 3, 4, 5].map((ctr) => updateEnvelope(dev, ctr, 1 << 20));
    for (const env of envs) expect(await a.append(doc, env)).toMatchObject({ type: 'appended' });
    const first = await a.pull(doc, 0);
    expect(first.more).toBe(true);
    expect(first.envelopes.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(first.envelopes.reduce((n, e) => n + e.env.length, 0)).toBeLessThanOrEqual(4 << 20);
    const rest = await a.pull(doc, 3);
    expect(rest).toMatchObject({ head: 5, more: false });
    expect(rest.envelopes.map((e) => e.env)).toEqual(envs.slice(3));
  });

  it('stores exactly one of two racing snapshots, then serves it with the tail', async () => {
    const a = await e2eeClient();
    const b = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    const dev = newDevice();
    for (let ctr = 1; ctr <= 4; ctr++) await a.append(doc, updateEnvelope(dev, ctr));
    const zeros = new Uint8Array(16);
    const snaps = [a, b].map((_, i) => snapshotEnvelope(newDevice(), new Uint8Array(16).fill(i + 1), zeros, 3));
    a.send(doc, { type: 'putSnapshot', req: 10, env: snaps[0] });
    b.send(doc, { type: 'putSnapshot', req: 10, env: snaps[1] });
    const results = [await a.answer(doc, 10), await b.answer(doc, 10)];
    const stored = results.filter((r) => r.type === 'snapshotResult' && r.status === SnapshotStatus.Stored);
    const conflict = results.filter((r) => r.type === 'snapshotResult' && r.status === SnapshotStatus.Conflict);
    expect(stored).toHaveLength(1);
    expect(conflict).toHaveLength(1);
    const winner = results.indexOf(stored[0]);
    expect(conflict[0]).toMatchObject({ snapId: new Uint8Array(16).fill(winner + 1), snapSeq: 3 });
    const from0 = await b.pull(doc, 0);
    expect(from0.snapshot).toEqual({ snapSeq: 3, env: snaps[winner] });
    expect(from0.envelopes.map((e) => e.seq)).toEqual([4]);
    expect((await b.pull(doc, 3)).snapshot).toBeNull();
    // The next snapshot must name the winner as prev and cover more.
    const next = snapshotEnvelope(dev, new Uint8Array(16).fill(9), new Uint8Array(16).fill(winner + 1), 4);
    expect(await a.putSnapshot(doc, snapshotEnvelope(dev, new Uint8Array(16).fill(9), zeros, 4))).toMatchObject({ status: SnapshotStatus.Conflict, snapSeq: 3 });
    expect(await a.putSnapshot(doc, next)).toMatchObject({ status: SnapshotStatus.Stored, snapSeq: 4 });
    expect(await b.pull(doc, 0)).toMatchObject({ head: 4, envelopes: [], snapshot: { snapSeq: 4, env: next } });
    // Invalid: an update envelope, or a zero snap id.
    expect(await a.putSnapshot(doc, updateEnvelope(dev, 9))).toMatchObject({ status: SnapshotStatus.Invalid });
    expect(await a.putSnapshot(doc, snapshotEnvelope(dev, zeros, new Uint8Array(16).fill(9), 4))).toMatchObject({ status: SnapshotStatus.Invalid });
  });

  it('lists the docs changed after a workspace change number', async () => {
    const a = await e2eeClient();
    const [t1, t2] = [randomTag(), randomTag()];
    const dev = newDevice();
    await a.append(e2eeDocId(ws, t1), updateEnvelope(dev, 1));
    await a.append(e2eeDocId(ws, t2), updateEnvelope(dev, 1));
    await a.append(e2eeDocId(ws, t1), updateEnvelope(dev, 2));
    const all = await a.changes(e2eeWorkspaceDocId(ws), 0);
    expect(all.changeHead).toBe(3);
    expect(all.docs.sort((x, y) => x.tag.localeCompare(y.tag))).toEqual([{ tag: t1, head: 2 }, { tag: t2, head: 1 }].sort((x, y) => x.tag.localeCompare(y.tag)));
    expect(await a.changes(e2eeWorkspaceDocId(ws), 2)).toEqual({ type: 'changesReply', changeHead: 3, docs: [{ tag: t1, head: 2 }] });
    expect(await a.changes(e2eeWorkspaceDocId(ws), 3)).toEqual({ type: 'changesReply', changeHead: 3, docs: [] });
    // Changes is a whole-workspace message only.
    a.send(e2eeDocId(ws, t1), { type: 'changes', after: 0 });
    await waitFor(() => a.of('refused', e2eeDocId(ws, t1)).length > 0, 'refusal');
  });
});

describe('limits and hints', () => {
  it('refuses an envelope past the doc size limit with Refused 4', async () => {
    await start({ maxDocBytes: 900 });
    await encrypt();
    const a = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    const dev = newDevice();
    expect(await a.append(doc, updateEnvelope(dev, 1))).toMatchObject({ type: 'appended', seq: 1 });
    expect(await a.append(doc, updateEnvelope(dev, 2))).toMatchObject({ type: 'appended', seq: 2 });
    expect(await a.append(doc, updateEnvelope(dev, 3))).toMatchObject({ type: 'refused', code: RefusedCode.Quota });
    expect((await a.pull(doc, 0)).head).toBe(2);
  });

  it('hints one client that pulled to head once the log passes the threshold, once per interval', async () => {
    await start({ compactAfterUpdates: 3 });
    await encrypt();
    const a = await e2eeClient();
    const b = await e2eeClient();
    const doc = e2eeDocId(ws, randomTag());
    const dev = newDevice();
    await b.pull(doc, 0);
    for (let ctr = 1; ctr <= 2; ctr++) await a.append(doc, updateEnvelope(dev, ctr));
    await waitFor(() => b.of('relay', doc).length === 2, 'relays');
    expect(b.of('compactHint')).toEqual([]);
    // a never pulled: only b holds the doc up to head.
    await a.append(doc, updateEnvelope(dev, 3));
    await waitFor(() => b.of('compactHint').length === 1, 'hint');
    expect(b.of('compactHint', doc)).toEqual([{ type: 'compactHint', logCount: 3, logBytes: 3 * updateEnvelope(dev, 1).length }]);
    await a.append(doc, updateEnvelope(dev, 4));
    await a.pull(doc, 0);
    await b.pull(doc, 0);
    expect([...a.of('compactHint'), ...b.of('compactHint')]).toHaveLength(1);
  });
});

describe('persistence', () => {
  it('keeps envelopes, snapshot, key record and numbering across a restart', async () => {
    await start();
    await encrypt();
    const doc = e2eeDocId(ws, randomTag());
    const dev = newDevice();
    let a = await e2eeClient();
    const envs = [1, 2, 3].map((ctr) => updateEnvelope(dev, ctr));
    for (const env of envs) await a.append(doc, env);
    const snap = snapshotEnvelope(dev, new Uint8Array(16).fill(5), new Uint8Array(16), 2);
    expect(await a.putSnapshot(doc, snap)).toMatchObject({ status: SnapshotStatus.Stored });
    await a.close();
    await ts.stop();
    const dataDir = ts.dataDir;
    ts = await startTestServer({ dataDir });
    a = await e2eeClient();
    expect(await a.pull(doc, 0)).toEqual({ type: 'batch', head: 3, more: false, snapshot: { snapSeq: 2, env: snap }, envelopes: [{ seq: 3, env: envs[2] }] });
    expect(await a.append(doc, envs[2])).toMatchObject({ type: 'appended', seq: 3 });
    expect(await a.append(doc, updateEnvelope(dev, 4))).toMatchObject({ type: 'appended', seq: 4 });
    expect((await api(`/api/workspaces/${ws}/keys`)).status).toBe(200);
  });
});

/**
 * The end-of-run assertions, after the network healed and went quiet:
 *
 * - every device's folder is byte for byte the same, and each file's body is
 *   the device's body doc text (disk and CRDT agree);
 * - workspace metadata (ListCrdtFiles with tombstones) is the same everywhere;
 * - workspace and body state vectors are the same on every device and on the
 *   server; body texts equal the server's;
 * - no device and no loaded server doc holds pending structs or deletes;
 * - every update the server acknowledged (stored) is still in its final state,
 *   and every acknowledged token is in the final text of some file, unless a
 *   user edit removed it or a user deleted a file it may have been in (then
 *   it is only counted).
 *
 * Each problem is a `Failure` with a kind (used by shrinking to recognise the
 * same failure) and a message with the first differences.
 */
import * as Y from 'yjs';
import { decodeBase64 } from '../common/src/base64';
import { bodyDocId, workspaceDocId } from '../common/src/wire/frame';
import { hasPendingStructs } from '../common/src/wire/sync';
import type { Ledger } from './actions';
import { containsToken, splitFile, TOKEN_RE } from './content';
import { WORKSPACE_ID, folderSnapshot, type Device } from './device';
import type { SimBackend } from './sim-server';
import { BODY_TEXT_NAME } from '../common/src/workspace/schema';

export interface Failure {
  kind: string;
  message: string;
}

/** What the checker counts without failing. */
export interface CheckStats {
  /** Acknowledged edits gone with a file a user deleted concurrently (a delete wins over synced edits). */
  lostToDeletes: number;
  /** Server docs of deleted files left with pending structs. */
  gapsInDeletedFiles: number;
  /** Docs whose pending structs wait for an update that no copy holds any more (lost messages or crashes). */
  unfillableGaps: number;
}

type FileEntry = [string, { deleted?: boolean } & Record<string, unknown>];

function svMap(bytes: Uint8Array): Map<number, number> {
  return Y.decodeStateVector(bytes);
}

function svText(sv: Map<number, number>): string {
  return [...sv.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, k]) => `${c}:${k}`)
    .join(',');
}

function utf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const ctx = (s: string) => JSON.stringify(utf8(s.slice(Math.max(0, i - 30), i + 50)));
  return `at byte ${i}: ${ctx(a)} vs ${ctx(b)}`;
}

function limit(lines: string[], n = 8): string {
  return lines.length <= n ? lines.join('\n') : `${lines.slice(0, n).join('\n')}\n... ${lines.length - n} more`;
}

function hasPending(update: Uint8Array): boolean {
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, update);
    return hasPendingStructs(doc);
  } finally {
    doc.destroy();
  }
}

/** Runs every check; resolves to the failures (empty = converged). */
export async function checkConvergence(
  devices: readonly Device[],
  server: SimBackend,
  ledger: Ledger,
  ackedSv: ReadonlyMap<string, Map<number, number>>,
  stats: CheckStats = { lostToDeletes: 0, gapsInDeletedFiles: 0, unfillableGaps: 0 },
  options: { lossy: boolean; duplicates?: boolean } = { lossy: false },
): Promise<Failure[]> {
  const failures: Failure[] = [];
  const fail = (kind: string, lines: string[]) => {
    if (lines.length > 0) failures.push({ kind, message: limit(lines) });
  };
  const [first] = devices;

  // Files, byte for byte.
  const snaps = devices.map((d) => folderSnapshot(d.dir));
  const fileDiffs: string[] = [];
  for (let i = 1; i < devices.length; i++) {
    const keys = [...new Set([...Object.keys(snaps[0]), ...Object.keys(snaps[i])])].sort();
    for (const k of keys) {
      const a = snaps[0][k];
      const b = snaps[i][k];
      if (a === b) continue;
      if (a === undefined || b === undefined) fileDiffs.push(`${k}: only on ${a === undefined ? devices[i].name : first.name}`);
      else fileDiffs.push(`${k}: ${first.name} vs ${devices[i].name} ${firstDifference(a, b)}`);
    }
  }
  fail('files-differ', fileDiffs);

  // Workspace metadata, tombstones included.
  const lists = await Promise.all(devices.map((d) => d.ok<FileEntry[]>('ListCrdtFiles', { include_deleted: true })));
  const metaDiffs: string[] = [];
  const listText = lists.map((l) => JSON.stringify(l));
  for (let i = 1; i < devices.length; i++) {
    if (listText[i] === listText[0]) continue;
    const a = new Map(lists[0].map(([k, m]) => [k, JSON.stringify(m)]));
    const b = new Map(lists[i].map(([k, m]) => [k, JSON.stringify(m)]));
    for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      if (a.get(k) !== b.get(k)) metaDiffs.push(`${k}: ${first.name} ${a.get(k) ?? 'missing'} vs ${devices[i].name} ${b.get(k) ?? 'missing'}`);
    }
  }
  fail('metadata-differs', metaDiffs);

  // Workspace state vectors (devices and server).
  const wsId = workspaceDocId(WORKSPACE_ID);
  const serverWs = await server.doc(wsId);
  const serverWsSv = svText(Y.decodeStateVector(Y.encodeStateVector(serverWs)));
  const svDiffs: string[] = [];
  for (const d of devices) {
    const sv = svText(svMap(decodeBase64((await d.ok<{ data: string }>('GetSyncState')).data)));
    if (sv !== serverWsSv) svDiffs.push(`${d.name} workspace sv ${sv} vs server ${serverWsSv}`);
  }
  fail('workspace-sv-differs', svDiffs);

  // Active files: disk, body text and body state vectors.
  const active = lists[0].filter(([, m]) => !m.deleted).map(([k]) => k);
  const bodyDiffs: string[] = [];
  const bodySvDiffs: string[] = [];
  const diskDiffs: string[] = [];
  const finalText = new Map<string, string>();
  for (const key of active) {
    const serverBody = await server.doc(bodyDocId(WORKSPACE_ID, key));
    const serverText = serverBody.getText(BODY_TEXT_NAME).toString();
    const serverSv = svText(Y.decodeStateVector(Y.encodeStateVector(serverBody)));
    serverBody.destroy();
    finalText.set(key, serverText);
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i];
      const text = (await d.ok<{ content: string }>('GetBodyContent', { doc_name: key })).content;
      if (text !== serverText) bodyDiffs.push(`${d.name} ${key}: body ${firstDifference(Buffer.from(text).toString('latin1'), Buffer.from(serverText).toString('latin1'))} (device vs server)`);
      const sv = svText(svMap(decodeBase64((await d.ok<{ data: string }>('GetBodySyncState', { doc_name: key })).data)));
      if (sv !== serverSv) bodySvDiffs.push(`${d.name} ${key}: body sv ${sv} vs server ${serverSv}`);
      const onDisk = snaps[i][key];
      if (onDisk === undefined) diskDiffs.push(`${d.name} ${key}: active in the CRDT, missing on disk`);
      else if (splitFile(utf8(onDisk)).body !== text) diskDiffs.push(`${d.name} ${key}: disk body differs from the body doc`);
    }
  }
  for (let i = 0; i < devices.length; i++) {
    for (const k of Object.keys(snaps[i])) {
      if (k.endsWith('.md') && !active.includes(k)) diskDiffs.push(`${devices[i].name} ${k}: on disk, not an active file of the CRDT`);
    }
  }
  serverWs.destroy();
  fail('body-differs', bodyDiffs);
  fail('body-sv-differs', bodySvDiffs);
  fail('disk-differs-from-crdt', diskDiffs);

  // Pending structs anywhere. A gap that the union of every copy cannot fill
  // means the missing update exists nowhere any more: the network lost it (a
  // dropped message or closed connection) and its author's copy is gone too (a crash
  // before storage kept it, or the file was deleted there). That is counted
  // when the run lost messages or crashed plugins, else it fails.
  const pending: string[] = [];
  const copies = new Map<string, Uint8Array[]>();
  const pendingDocs = new Map<string, string[]>();
  const note = (docId: string, who: string, state: Uint8Array) => {
    copies.set(docId, [...(copies.get(docId) ?? []), state]);
    if (hasPending(state)) pendingDocs.set(docId, [...(pendingDocs.get(docId) ?? []), who]);
  };
  for (const d of devices) {
    note(wsId, `${d.name}: workspace doc`, decodeBase64((await d.ok<{ data: string }>('GetFullState')).data));
    for (const key of active) {
      note(bodyDocId(WORKSPACE_ID, key), `${d.name}: body ${key}`, decodeBase64((await d.ok<{ data: string }>('GetBodyFullState', { doc_name: key })).data));
    }
  }
  // Docs of deleted files are left out: a device that deleted a file no longer
  // answers for its body, so a gap there (e.g. an update the server lost to a
  // storage failure before the file was deleted) can stay; nobody reads it.
  const watched = new Set([wsId, ...active.map((k) => bodyDocId(WORKSPACE_ID, k))]);
  const loadedPending = new Set(server.loadedPending());
  for (const id of loadedPending) if (!watched.has(id)) stats.gapsInDeletedFiles++;
  for (const id of watched) {
    const doc = await server.doc(id);
    const state = Y.encodeStateAsUpdate(doc);
    doc.destroy();
    copies.set(id, [...(copies.get(id) ?? []), state]);
    if (loadedPending.has(id)) pendingDocs.set(id, [...(pendingDocs.get(id) ?? []), `server: ${id}`]);
  }
  for (const [docId, who] of pendingDocs) {
    if (options.lossy && hasPending(Y.mergeUpdates(copies.get(docId) ?? []))) stats.unfillableGaps++;
    else pending.push(...who);
  }
  fail('pending-structs', pending);

  // Acknowledged updates and tokens.
  const lostUpdates: string[] = [];
  for (const [docId, acked] of ackedSv) {
    const doc = await server.doc(docId);
    const sv = Y.encodeStateVector(doc);
    doc.destroy();
    const now = Y.decodeStateVector(sv);
    for (const [client, clock] of acked) {
      if ((now.get(client) ?? 0) < clock) lostUpdates.push(`${docId}: client ${client} acknowledged up to ${clock}, now ${now.get(client) ?? 0}`);
    }
  }
  fail('server-lost-update', lostUpdates);
  const lostTokens: string[] = [];
  for (const rec of ledger.tokens.values()) {
    if (!rec.acked || rec.removed || [...finalText.values()].some((t) => containsToken(t, rec.token))) continue;
    if (rec.deleteExposed) {
      stats.lostToDeletes++;
      continue;
    }
    const where = [...rec.keys].join(' or ');
    lostTokens.push(`${rec.token} (dev${rec.device}, step ${rec.step}) typed into ${where}: in no file at the end`);
  }
  fail('lost-edit', lostTokens);
  // Text twice in one file (with `duplicates`): tokens are unique, so a token met twice is text
  // that merged with an independent copy of itself (a link after offline edits did this to every
  // device). Opt-in: renames onto paths whose text was copied elsewhere still produce it.
  const duplicated: string[] = [];
  for (const [key, text] of options.duplicates ? finalText : new Map<string, string>()) {
    const seen = new Set<string>();
    for (const token of text.match(TOKEN_RE) ?? []) {
      const rec = ledger.tokens.get(token);
      if (seen.has(token)) duplicated.push(`${key}: ${token} twice${rec ? ` (typed on dev${rec.device} at step ${rec.step})` : ''}`);
      seen.add(token);
    }
  }
  fail('duplicated-text', duplicated);
  // Several nodes: each one's loaded documents equal the stored state.
  if (server.checkNodes) failures.push(...(await server.checkNodes()));
  return failures;
}

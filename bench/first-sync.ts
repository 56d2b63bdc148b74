/**
 * The first sync of a workspace from one device to a second through a real
 * server process, in an unencrypted or an end-to-end encrypted workspace:
 * device A starts over a folder of N entries (the benchmark fixture), and
 * once it reports synced device B starts over an empty folder; the time is
 * from A's start until B's folder holds every file byte for byte (A keeps
 * running meanwhile). Each device talks to the server through its own
 * counting proxy, in a process of its own (bytes each way, HTTP and
 * WebSocket). After both stop and
 * the server exits, its database is read: the bytes of the document rows
 * (plain updates and snapshots, or envelopes and client snapshots) and, for
 * an encrypted workspace, every envelope opened with the workspace keys to
 * split its size into Yjs payload, fixed framing and padding.
 *
 * Keys of an encrypted workspace are made in Node and put into both devices'
 * plugin storage before they start (test/helpers/e2ee-workspace.ts), so the
 * passphrase KDF (seconds inside the plugin, measured by the `e2ee` suite)
 * is not part of the sync time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as Y from 'yjs';
import { openEnvelope } from '../common/src/e2ee/envelope';
import { headerLength, NONCE_BYTES, TAG_BYTES, parseEnvelope } from '../common/src/e2ee/envelope-header';
import { docKey } from '../common/src/e2ee/keys';
import type { WorkspaceKeys } from '../common/src/e2ee/key-record';
import { SyncJob } from '../host-harness/src/sync-job';
import { databasePath } from '../server/src/db';
import { createEncryptedWorkspace, provisionDeviceKeys } from '../test/helpers/e2ee-workspace';
import { startChildServer } from '../test/server/helpers/child';
import { startProxyProcess, type ProcessProxy } from './proxy-process';
import { createToken } from './relay-editors';
import { writeWorkspace } from './workspace-fixture';

export type SyncMode = 'plain' | 'encrypted';

/** Bytes through one device's proxy. */
export interface Wire {
  toServer: number;
  toClient: number;
}

/** What the encrypted envelopes the server kept are made of (opened with the workspace keys). */
export interface EnvelopeMakeup {
  updates: number;
  snapshots: number;
  /** Yjs updates and snapshot payloads as the devices sealed them. */
  payloadBytes: number;
  /** Header (30 bytes for an update, 70 for a snapshot), nonce 24, tag 16, length prefix 4. */
  framingBytes: number;
  /** Zeros from the payload's end to its bucket. */
  paddingBytes: number;
  /** Each doc's update payloads merged into one (Y.mergeUpdates): the payload without what repeats. */
  mergedUpdateBytes: number;
  /** Padded plaintext size -> envelopes of that size. */
  buckets: Record<number, number>;
}

export interface FirstSyncResult {
  mode: SyncMode;
  /** Markdown files in A's folder (the entries and the root index). */
  files: number;
  /** A's start until B's folder holds every file byte for byte. */
  totalMs: number;
  /** A's start until A reported synced. */
  aSyncedMs: number;
  /** B's start until its folder holds every file. */
  bMs: number;
  wireA: Wire;
  wireB: Wire;
  /** Bytes of the document rows the server kept (plain or encrypted tables, whichever the mode uses). */
  storedBytes: number;
  storedRows: number;
  /** Every file of the server's data folder after it exited (database and its WAL). */
  dataDirBytes: number;
  /** Sum of A's Markdown file sizes. */
  fileBytes: number;
  envelopes: EnvelopeMakeup | null;
  /** `error` statuses either device reported. */
  errors: string[];
}

export interface FirstSyncOptions {
  files: number;
  mode: SyncMode;
  log?: (message: string) => void;
  /** For each wait (A synced, B complete); default 10 minutes. */
  timeoutMs?: number;
}

/** Every file under `dir` but `.diaryx`, relative path -> bytes. */
function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (rel === '' && e.name === '.diaryx') continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child);
      else out.set(child, fs.readFileSync(path.join(dir, child)));
    }
  };
  walk('');
  return out;
}

/** Names of the differences between a folder and the expected files (missing, different, extra). */
function differences(dir: string, expected: Map<string, Buffer>): string[] {
  const got = readTree(dir);
  const out: string[] = [];
  for (const [rel, bytes] of expected) {
    const have = got.get(rel);
    if (!have) out.push(`${rel}: missing`);
    else if (!have.equals(bytes)) out.push(`${rel}: differs`);
  }
  for (const rel of got.keys()) if (!expected.has(rel)) out.push(`${rel}: not expected`);
  return out;
}

function tryRead(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}

/**
 * Polls until `dir` holds every expected file byte for byte and nothing else.
 * Files already equal are not read again until the final whole-folder check.
 */
async function waitForFolder(dir: string, expected: Map<string, Buffer>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const pending = new Set(expected.keys());
  for (;;) {
    for (const rel of pending) {
      const have = tryRead(path.join(dir, rel));
      if (have && have.equals(expected.get(rel)!)) pending.delete(rel);
    }
    if (pending.size === 0) {
      const diff = differences(dir, expected);
      if (diff.length === 0) return;
      for (const d of diff) pending.add(d.slice(0, d.lastIndexOf(':')));
    }
    if (performance.now() > deadline) {
      const first = [...pending][0];
      const have = tryRead(path.join(dir, first));
      const sample = have ? `; ${first} is ${JSON.stringify(have.toString('utf8').slice(0, 300))}, expected ${JSON.stringify(expected.get(first)!.toString('utf8').slice(0, 300))}` : '';
      throw new Error(`device B's folder after ${timeoutMs} ms: ${pending.size} files not there or not equal (${[...pending].slice(0, 5).join(', ')})${sample}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return total;
}

async function createPlainWorkspace(serverUrl: string, token: string): Promise<string> {
  const res = await fetch(`${serverUrl}/api/workspaces`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'Bench first sync' }),
  });
  if (!res.ok) throw new Error(`creating the workspace failed: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

interface Stored {
  plainBytes: number;
  plainRows: number;
  encryptedBytes: number;
  encryptedRows: number;
  envelopes: EnvelopeMakeup | null;
}

/** Reads the stopped server's database: document rows of both kinds, and the envelopes opened with `keys`. */
function readStored(dataDir: string, keys: WorkspaceKeys | null): Stored {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    const sum = (sql: string) => db.prepare(sql).get() as { n: number; bytes: number };
    const snaps = sum('SELECT count(*) AS n, coalesce(sum(length(state)), 0) AS bytes FROM doc_snapshots');
    const updates = sum('SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM doc_updates');
    const envs = sum('SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM e2ee_envelopes');
    const csnaps = sum('SELECT count(snapshot) AS n, coalesce(sum(length(snapshot)), 0) AS bytes FROM e2ee_docs');
    const stored: Stored = {
      plainBytes: snaps.bytes + updates.bytes,
      plainRows: snaps.n + updates.n,
      encryptedBytes: envs.bytes + csnaps.bytes,
      encryptedRows: envs.n + csnaps.n,
      envelopes: null,
    };
    if (keys) {
      const m: EnvelopeMakeup = { updates: 0, snapshots: 0, payloadBytes: 0, framingBytes: 0, paddingBytes: 0, mergedUpdateBytes: 0, buckets: {} };
      const updatesByDoc = new Map<string, Uint8Array[]>();
      const rows = [
        ...(db.prepare('SELECT doc_id, data FROM e2ee_envelopes').all() as { doc_id: string; data: Buffer }[]),
        ...(db.prepare('SELECT doc_id, snapshot AS data FROM e2ee_docs WHERE snapshot IS NOT NULL').all() as { doc_id: string; data: Buffer }[]),
      ];
      for (const r of rows) {
        const prefix = `e2e:${keys.workspaceId}/`;
        if (!r.doc_id.startsWith(prefix)) throw new Error(`envelope of another workspace stored: ${r.doc_id}`);
        const ctx = { workspaceId: keys.workspaceId, docTag: r.doc_id.slice(prefix.length) };
        const bytes = new Uint8Array(r.data);
        const { header } = parseEnvelope(bytes);
        const opened = openEnvelope(bytes, ctx, (e) => {
          const rk = keys.rootKeys.get(e);
          return rk && docKey(rk, keys.workspaceId, ctx.docTag);
        });
        const framing = headerLength(header.kind) + NONCE_BYTES + TAG_BYTES + 4;
        const padded = bytes.length - headerLength(header.kind) - NONCE_BYTES - TAG_BYTES;
        if (header.kind === 'update') {
          m.updates++;
          updatesByDoc.set(r.doc_id, [...(updatesByDoc.get(r.doc_id) ?? []), opened.payload]);
        } else m.snapshots++;
        m.payloadBytes += opened.payload.length;
        m.framingBytes += framing;
        m.paddingBytes += padded - 4 - opened.payload.length;
        m.buckets[padded] = (m.buckets[padded] ?? 0) + 1;
      }
      for (const updates of updatesByDoc.values()) m.mergedUpdateBytes += Y.mergeUpdates(updates).length;
      stored.envelopes = m;
    }
    return stored;
  } finally {
    db.close();
  }
}

export async function firstSync(opts: FirstSyncOptions): Promise<FirstSyncResult> {
  const { mode } = opts;
  const log = opts.log ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `diaryx-bench-first-sync-${mode}-`));
  const dataDir = path.join(scratch, 'server');
  const dirA = path.join(scratch, 'a');
  const dirB = path.join(scratch, 'b');
  const errors: string[] = [];
  const proxies: ProcessProxy[] = [];
  const jobs: SyncJob[] = [];
  try {
    const server = await startChildServer(dataDir);
    let keys: WorkspaceKeys | null = null;
    let result: Omit<FirstSyncResult, 'storedBytes' | 'storedRows' | 'dataDirBytes' | 'envelopes'>;
    try {
      const token = await createToken(dataDir, 'bench');
      writeWorkspace(dirA, opts.files);
      fs.mkdirSync(dirB);
      const expected = readTree(dirA);
      let workspaceId: string;
      if (mode === 'encrypted') {
        const ws = await createEncryptedWorkspace(server.url, token, { name: 'Bench first sync' });
        provisionDeviceKeys(dirA, ws);
        provisionDeviceKeys(dirB, ws);
        keys = ws.keys;
        workspaceId = ws.workspaceId;
      } else {
        workspaceId = await createPlainWorkspace(server.url, token);
      }
      const port = Number(new URL(server.url).port);
      const proxyA = await startProxyProcess(port);
      const proxyB = await startProxyProcess(port);
      proxies.push(proxyA, proxyB);
      const device = (dir: string, proxy: ProcessProxy, name: string) =>
        SyncJob.start({
          dir,
          serverUrl: `http://127.0.0.1:${proxy.port}`,
          token,
          workspaceId,
          watch: false,
          onStatus: (status, detail) => {
            if (status === 'error') errors.push(`${name}: ${detail ?? ''}`);
          },
        });
      log(`${mode}: device A over ${expected.size} files`);
      const t0 = performance.now();
      const a = await device(dirA, proxyA, 'A');
      jobs.push(a);
      await a.waitUntilSynced(timeoutMs);
      const aSyncedMs = performance.now() - t0;
      log(`${mode}: A synced after ${(aSyncedMs / 1000).toFixed(1)} s; device B`);
      const tB = performance.now();
      const b = await device(dirB, proxyB, 'B');
      jobs.push(b);
      await waitForFolder(dirB, expected, timeoutMs);
      const end = performance.now();
      log(`${mode}: B holds every file after ${((end - t0) / 1000).toFixed(1)} s`);
      for (const job of jobs.splice(0).reverse()) await job.stop();
      const changedOnA = differences(dirA, expected);
      if (changedOnA.length > 0) throw new Error(`device A's folder changed during the sync: ${changedOnA.slice(0, 5).join(', ')}`);
      const bAfter = differences(dirB, expected);
      if (bAfter.length > 0) throw new Error(`device B's folder changed after it matched: ${bAfter.slice(0, 5).join(', ')}`);
      result = {
        mode,
        files: expected.size,
        totalMs: end - t0,
        aSyncedMs,
        bMs: end - tB,
        wireA: await proxyA.counts(),
        wireB: await proxyB.counts(),
        fileBytes: [...expected.values()].reduce((s, b) => s + b.length, 0),
        errors,
      };
    } finally {
      for (const job of jobs) await job.stop().catch(() => undefined);
      for (const p of proxies) await p.close();
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    const stored = readStored(dataDir, keys);
    const [mine, other] = mode === 'encrypted' ? [stored.encryptedBytes, stored.plainRows] : [stored.plainBytes, stored.encryptedRows];
    if (other !== 0) throw new Error(`the ${mode} workspace left ${other} rows in the other mode's tables`);
    return {
      ...result,
      storedBytes: mine,
      storedRows: mode === 'encrypted' ? stored.encryptedRows : stored.plainRows,
      dataDirBytes: dirBytes(dataDir),
      envelopes: stored.envelopes,
    };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

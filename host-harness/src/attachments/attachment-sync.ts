/**
 * Attachment sync for the CLI host: the files entries reference travel
 * through the server's attachment API, as the Diaryx apps do it; the plugin
 * only carries their metadata (BinaryRef) in the workspace doc.
 *
 * Each pass (after a sync, a change in the folder or a file the plugin
 * wrote) lists the workspace's entries (`ListCrdtFiles`) and what they
 * reference (references.ts), and for each referenced path:
 * - the file here is new or changed since it was last synced -> upload, and
 *   the BinaryRefs that name it get hash, size, mime type and uploaded_at
 *   (`GetCrdtFile` + `SetCrdtFile`, the plugin's own metadata path; the
 *   entry's front matter block as written is kept);
 * - it is missing here, or unchanged here while the workspace names other
 *   bytes -> download (the hash from the BinaryRef, or, for a body link, the
 *   latest upload of that path the server lists).
 * A file in the folder that no entry references is named once, and not synced.
 *
 * In an end-to-end encrypted workspace (the plugin answers GetAttachmentKeys,
 * sealed.ts) the same decisions move sealed blobs instead: the upload is the
 * DXA1 blob announced by its address alone, the BinaryRef gets `e2ee`
 * {addr, key, epoch} beside the file's own hash, and a download fetches the
 * address and opens the blob before anything is written. The server lists no
 * paths there, so a file only a body links to (no BinaryRef) is not synced.
 */
import fs from 'node:fs';
import path from 'node:path';
import { splitFrontmatter } from '../../../common/src/workspace/frontmatter';
import type { BinaryRef, EncryptedBlobRef, FileMetadata } from '../../../common/src/workspace/metadata';
import { withSourceFrontmatter } from '../../../common/src/workspace/source-frontmatter';
import type { CommandResponse } from '../host-types';
import { mimeTypeOf } from '../../../common/src/workspace/mime-types';
import { bodyReferences } from './references';
import { atomicWrite } from '../workspace-fs';
import { attachmentMode, openSealedBlob, sealFile, type AttachmentMode } from './sealed';
import { hashFile, TransferClient, TransferError, type HeldAttachment } from './transfer-client';
import { TransferQueue, type PendingTransfer } from './transfer-queue';

/** What the syncer reports. */
export type AttachmentActivity =
  | { kind: 'attachment-sent'; path: string; bytes: number }
  | { kind: 'attachment-received'; path: string; bytes: number }
  | { kind: 'attachment-failed'; path: string; reason: string }
  | { kind: 'attachment-progress'; path: string; direction: 'up' | 'down'; done: number; total: number }
  | { kind: 'unreferenced'; path: string }
  | { kind: 'not-synced'; path: string; reason: string }
  | { kind: 'referenced'; path: string };

export interface AttachmentSyncOptions {
  dir: string;
  serverUrl: string;
  token: string;
  workspaceId: string;
  command: (name: string, params: unknown) => Promise<CommandResponse>;
  report: (a: AttachmentActivity) => void;
}

/** How long a burst of triggers is gathered into one pass. */
const DEBOUNCE_MS = 150;
/** Transfers running at once (the Diaryx web app runs 2). */
const CONCURRENT_TRANSFERS = 4;
/** Wait before a failed pass is tried again, doubled after each failed pass up to MAX_RETRY_MS. */
const RETRY_MS = 2_000;
const MAX_RETRY_MS = 60_000;

interface Reference {
  /** Entries that list it in front matter (their BinaryRefs get the hash). */
  listedBy: string[];
  /** An entry that references it at all. */
  entry: string;
  /** The hash the workspace names for it, '' when none. */
  hash: string;
  /** The sealed blob the workspace names for it (encrypted workspaces), null when none. */
  e2ee: EncryptedBlobRef | null;
  /** The file's size as the workspace names it (with `hash`). */
  size: number;
}

/**
 * Sealing and opening hold a file and its blob in memory (up to 256 MiB
 * each): files from this size on take turns, so parallel transfers do not
 * multiply that.
 */
const LARGE_SEALED_BYTES = 16 * 1024 * 1024;

/** Why a body-linked file stays here in an encrypted workspace. */
export const BODY_LINK_ONLY_REASON =
  'only a body links to it: in an end-to-end encrypted workspace a file syncs when an entry lists it in `attachments:` (the server cannot list paths)';

export class AttachmentSync {
  readonly queue: TransferQueue;
  readonly client: TransferClient;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private started = false;
  private idleWaiters: (() => void)[] = [];
  private unreferenced = new Set<string>();
  private failedPasses = 0;
  /** Ends the wait before a retry (a new trigger, runNow, close). */
  private wake: (() => void) | null = null;
  private readonly linkCache = new Map<string, { mtimeMs: number; size: number; links: string[] }>();
  /** The live list last sent (encrypted workspaces), null before the first. */
  private lastLive: string | null = null;
  /** The end of the last large sealed transfer queued (LARGE_SEALED_BYTES). */
  private largeSealed: Promise<unknown> = Promise.resolve();
  /** Body-linked files said not to sync (encrypted workspaces), so each is said once. */
  private readonly bodyLinkOnly = new Set<string>();
  /** Paths whose last transfer failed, with the reason (a pass that succeeds clears them). */
  readonly failures = new Map<string, string>();

  constructor(private readonly o: AttachmentSyncOptions) {
    this.queue = new TransferQueue(o.dir);
    this.client = new TransferClient(o.serverUrl, o.token, o.workspaceId);
  }

  /** Allows passes (the job calls it once the workspace first synced: before, it may not exist on the server yet). */
  start(): void {
    this.started = true;
    this.trigger();
  }

  /** Asks for a pass after `delayMs` (a burst of triggers makes one pass), once started. */
  trigger(delayMs = DEBOUNCE_MS): void {
    if (this.closed || !this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.loop();
    }, delayMs);
  }

  /** Whether a pass is due or running. */
  get busy(): boolean {
    return this.timer !== null || this.running !== null;
  }

  /** Resolves once no pass is due or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs one pass now and waits for it (and for one that was already running). */
  async runNow(): Promise<void> {
    this.wake?.();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.running) await this.running;
    this.running = this.loop();
    await this.running;
  }

  close(): void {
    this.closed = true;
    this.wake?.();
    this.client.close();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        let ok = true;
        try {
          ok = await this.pass();
        } catch (e) {
          ok = false;
          this.o.report({ kind: 'attachment-failed', path: '', reason: (e as Error).message });
        }
        this.failedPasses = ok ? 0 : this.failedPasses + 1;
        if (!ok && !this.closed && !this.again) {
          // Backing off: a refusal such as a full quota stays until someone acts.
          const wait = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (this.failedPasses - 1));
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, wait);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = null;
          this.again = true;
        }
      } while (this.again && !this.closed);
    } finally {
      this.running = null;
      if (!this.timer) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        waiters.forEach((w) => w());
      }
    }
  }

  private async listEntries(): Promise<[string, FileMetadata][]> {
    const res = await this.o.command('ListCrdtFiles', {});
    if (!res.success || !Array.isArray(res.data)) throw new Error(`listing the entries failed: ${res.error ?? 'no answer'}`);
    return (res.data as [string, FileMetadata][]).filter(([key, meta]) => !meta.deleted && key.toLowerCase().endsWith('.md'));
  }

  /** What the workspace's entries reference, by path, and the sealed blobs they name (encrypted workspaces). */
  private async references(): Promise<{ refs: Map<string, Reference>; live: Set<string> }> {
    const refs = new Map<string, Reference>();
    const live = new Set<string>();
    const get = (p: string, entry: string) => {
      let r = refs.get(p);
      if (!r) refs.set(p, (r = { listedBy: [], entry, hash: '', e2ee: null, size: 0 }));
      return r;
    };
    for (const [key, meta] of await this.listEntries()) {
      for (const a of meta.attachments) {
        if (!a.deleted && a.e2ee) live.add(a.e2ee.addr);
        if (a.deleted || a.path.toLowerCase().endsWith('.md')) continue;
        const r = get(a.path, key);
        r.listedBy.push(key);
        if (a.hash !== '' && r.hash === '') {
          r.hash = a.hash;
          r.e2ee = a.e2ee ?? null;
          r.size = a.size;
        }
      }
      for (const p of this.bodyLinks(key)) get(p, key);
    }
    return { refs, live };
  }

  /** The body links of an entry's file, read again only when the file changed. */
  private bodyLinks(key: string): string[] {
    const file = path.join(this.o.dir, key);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      this.linkCache.delete(key);
      return [];
    }
    const cached = this.linkCache.get(key);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.links;
    let links: string[] = [];
    try {
      links = bodyReferences(key, splitFrontmatter(fs.readFileSync(file, 'utf8')).body);
    } catch {
      links = [];
    }
    this.linkCache.set(key, { mtimeMs: stat.mtimeMs, size: stat.size, links });
    return links;
  }

  /** One pass; false when some transfer failed (tried again later). */
  private async pass(): Promise<boolean> {
    const mode = await attachmentMode(this.o.command, this.o.workspaceId);
    const { refs } = await this.references();
    let held: Promise<Map<string, HeldAttachment>> | null = null;
    const heldHash = async (p: string): Promise<string> => {
      held ??= this.client.list().then((list) => {
        const byPath = new Map<string, HeldAttachment>();
        for (const h of list) if (!byPath.has(h.path)) byPath.set(h.path, h);
        return byPath;
      });
      return (await held).get(p)?.hash ?? '';
    };
    // Transfers an earlier run left unfinished go first.
    const order = [...this.queue.pending.map((t) => t.path).filter((p) => refs.has(p)), ...[...refs.keys()].sort()];
    const todo = [...new Set(order)];
    let ok = true;
    // A few transfers at a time: small files cost round trips more than bytes.
    const worker = async () => {
      for (let p = todo.shift(); p !== undefined && !this.closed; p = todo.shift()) {
        const ref = refs.get(p)!;
        try {
          if (mode.kind === 'plain') await this.syncPath(p, ref, heldHash);
          else await this.syncSealedPath(p, ref, mode);
          this.failures.delete(p);
        } catch (e) {
          ok = false;
          const reason = (e as Error).message;
          if (this.failures.get(p) !== reason) this.o.report({ kind: 'attachment-failed', path: p, reason });
          this.failures.set(p, reason);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT_TRANSFERS }, worker));
    for (const t of this.queue.pending) if (!refs.has(t.path)) this.queue.done(t.path);
    this.reportUnreferenced(refs);
    if (mode.kind === 'sealed') await this.sendLive();
    return ok;
  }

  /** The file of `p` here (null when the path is something other than a file): its stat, the last synced record, its hash (reused while size and mtime hold). */
  private async localFile(p: string): Promise<{ file: string; stat: fs.Stats | null; last: ReturnType<TransferQueue['synced']>; local: { hash: string; size: number } | null } | null> {
    const file = path.join(this.o.dir, ...p.split('/'));
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(file);
      if (!stat.isFile()) return null;
    } catch {
      stat = null;
    }
    const last = this.queue.synced(p);
    let local: { hash: string; size: number } | null = null;
    if (stat) local = last && last.size === stat.size && last.mtimeMs === stat.mtimeMs ? { hash: last.hash, size: last.size } : await hashFile(file);
    return { file, stat, last, local };
  }

  private async syncPath(p: string, ref: Reference, heldHash: (p: string) => Promise<string>): Promise<void> {
    const here = await this.localFile(p);
    if (here === null) return;
    const { file, stat, last, local } = here;
    const remote = ref.hash || (await heldHash(p));
    const changedHere = local !== null && (last === undefined || last.hash !== local.hash);
    if (local !== null && (changedHere || remote === '')) {
      if (local.hash !== remote || (await heldHash(p)) !== local.hash) await this.upload(p, file, local, ref);
      else this.queue.setSynced(p, { ...local, mtimeMs: stat!.mtimeMs });
      await this.fillRefs(p, ref, local.hash, local.size);
      return;
    }
    if (remote === '') return;
    if (local !== null && local.hash === remote) {
      if (!last || last.hash !== local.hash || last.mtimeMs !== stat!.mtimeMs) this.queue.setSynced(p, { ...local, mtimeMs: stat!.mtimeMs });
      await this.fillRefs(p, ref, local.hash, local.size);
      return;
    }
    await this.download(p, file, remote, ref);
  }

  /** syncPath for an encrypted workspace: the same decisions, moving sealed blobs (the file's hash decides, the blob's address travels). */
  private async syncSealedPath(p: string, ref: Reference, mode: Extract<AttachmentMode, { kind: 'sealed' }>): Promise<void> {
    if (ref.listedBy.length === 0) {
      if (!this.bodyLinkOnly.has(p)) this.o.report({ kind: 'not-synced', path: p, reason: BODY_LINK_ONLY_REASON });
      this.bodyLinkOnly.add(p);
      return;
    }
    // Listed now: no longer said not to sync.
    if (this.bodyLinkOnly.delete(p)) this.o.report({ kind: 'referenced', path: p });
    const here = await this.localFile(p);
    if (here === null) return;
    const { file, stat, last, local } = here;
    // A reference without its blob cannot be downloaded: as if the workspace named nothing.
    const remote = ref.e2ee === null ? '' : ref.hash;
    const changedHere = local !== null && (last === undefined || last.hash !== local.hash);
    if (local !== null && (changedHere || remote === '')) {
      if (local.hash !== remote || !(await this.client.holds(ref.e2ee!.addr))) {
        await this.oneLargeAtATime(local.size, () => this.uploadSealed(p, file, ref, mode));
      } else {
        this.queue.setSynced(p, { ...local, mtimeMs: stat!.mtimeMs });
        await this.fillRefs(p, ref, local.hash, local.size, ref.e2ee!);
      }
      return;
    }
    if (remote === '') return;
    if (local !== null && local.hash === remote) {
      if (!last || last.hash !== local.hash || last.mtimeMs !== stat!.mtimeMs) this.queue.setSynced(p, { ...local, mtimeMs: stat!.mtimeMs });
      await this.fillRefs(p, ref, local.hash, local.size, ref.e2ee!);
      return;
    }
    await this.oneLargeAtATime(ref.size, () => this.downloadSealed(p, file, ref, ref.e2ee!, mode));
  }

  /** Runs `work` now for a small file, else after the large sealed transfers queued before it. */
  private oneLargeAtATime(bytes: number, work: () => Promise<void>): Promise<void> {
    if (bytes < LARGE_SEALED_BYTES) return work();
    const run = this.largeSealed.then(work);
    this.largeSealed = run.catch(() => undefined);
    return run;
  }

  private async uploadSealed(p: string, file: string, ref: Reference, mode: Extract<AttachmentMode, { kind: 'sealed' }>): Promise<void> {
    const mtimeMs = fs.statSync(file).mtimeMs;
    // The bytes read here are the ones sealed, hashed and named, whatever the file becomes meanwhile.
    const sealed = sealFile(mode.keys, fs.readFileSync(file), p);
    this.queue.add({ kind: 'upload', path: p, hash: sealed.hash, size: sealed.size, mimeType: mimeTypeOf(p), entry: ref.entry });
    await this.client.upload({ blob: sealed.blob, hash: sealed.ref.addr, label: p }, (done) =>
      this.o.report({ kind: 'attachment-progress', path: p, direction: 'up', done, total: sealed.blob.length }),
    );
    const now = await hashFile(file);
    this.queue.setSynced(p, { hash: sealed.hash, size: sealed.size, mtimeMs: now.hash === sealed.hash ? mtimeMs : -1 });
    this.queue.done(p);
    await this.fillRefs(p, ref, sealed.hash, sealed.size, sealed.ref);
    this.o.report({ kind: 'attachment-sent', path: p, bytes: sealed.size });
    if (now.hash !== sealed.hash) this.again = true;
  }

  private async downloadSealed(p: string, file: string, ref: Reference, blobRef: EncryptedBlobRef, mode: Extract<AttachmentMode, { kind: 'sealed' }>): Promise<void> {
    this.queue.add({ kind: 'download', path: p, hash: blobRef.addr, size: 0, mimeType: mimeTypeOf(p), entry: ref.entry });
    const partial = this.queue.partialPath(blobRef.addr);
    await this.client.fetchBlob(blobRef.addr, partial, (done, total) => this.o.report({ kind: 'attachment-progress', path: p, direction: 'down', done, total }));
    let bytes: Uint8Array;
    try {
      bytes = openSealedBlob(mode.keys, blobRef, fs.readFileSync(partial), ref.hash, p);
    } catch (e) {
      fs.rmSync(partial, { force: true });
      throw e;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    atomicWrite(file, bytes);
    fs.rmSync(partial, { force: true });
    this.queue.setSynced(p, { hash: ref.hash, size: bytes.length, mtimeMs: fs.statSync(file).mtimeMs });
    this.queue.done(p);
    this.o.report({ kind: 'attachment-received', path: p, bytes: bytes.length });
  }

  private async upload(p: string, file: string, local: { hash: string; size: number }, ref: Reference): Promise<void> {
    const t: PendingTransfer = { kind: 'upload', path: p, hash: local.hash, size: local.size, mimeType: mimeTypeOf(p), entry: ref.entry };
    this.queue.add(t);
    const mtimeMs = fs.statSync(file).mtimeMs;
    await this.client.upload(
      { file, attachmentPath: p, entryPath: ref.entry, hash: local.hash, size: local.size, mimeType: t.mimeType },
      (done) => this.o.report({ kind: 'attachment-progress', path: p, direction: 'up', done, total: local.size }),
    );
    // The file may have changed while it was sent: then the next pass sends it again.
    const now = await hashFile(file);
    this.queue.setSynced(p, { hash: local.hash, size: local.size, mtimeMs: now.hash === local.hash ? mtimeMs : -1 });
    this.queue.done(p);
    this.o.report({ kind: 'attachment-sent', path: p, bytes: local.size });
    if (now.hash !== local.hash) this.again = true;
  }

  private async download(p: string, file: string, hash: string, ref: Reference): Promise<void> {
    this.queue.add({ kind: 'download', path: p, hash, size: 0, mimeType: mimeTypeOf(p), entry: ref.entry });
    const size = await this.client.download(hash, file, this.queue.partialPath(hash), (done, total) =>
      this.o.report({ kind: 'attachment-progress', path: p, direction: 'down', done, total }),
    );
    this.queue.setSynced(p, { hash, size, mtimeMs: fs.statSync(file).mtimeMs });
    this.queue.done(p);
    this.o.report({ kind: 'attachment-received', path: p, bytes: size });
  }

  /** Gives the BinaryRefs that name `p` their hash, size, type and upload time (and, encrypted, their blob). */
  private async fillRefs(p: string, ref: Reference, hash: string, size: number, blob?: EncryptedBlobRef): Promise<void> {
    for (const key of ref.listedBy) {
      const res = await this.o.command('GetCrdtFile', { path: key });
      if (!res.success || res.data === null || typeof res.data !== 'object') continue;
      const meta = res.data as FileMetadata;
      let changed = false;
      const mime = mimeTypeOf(p);
      const attachments: BinaryRef[] = meta.attachments.map((a) => {
        const sameBlob = blob === undefined || (a.e2ee?.addr === blob.addr && a.e2ee.key === blob.key && a.e2ee.epoch === blob.epoch);
        if (a.path !== p || a.deleted || (a.hash === hash && a.size === size && a.mime_type === mime && a.uploaded_at !== null && sameBlob)) return a;
        changed = true;
        const filled: BinaryRef = { ...a, source: 'local', hash, size, mime_type: mime, uploaded_at: Date.now() };
        if (blob !== undefined) filled.e2ee = { ...blob };
        return filled;
      });
      if (!changed) continue;
      let next: FileMetadata = { ...meta, attachments };
      // Keep the entry's front matter block as written (GetCrdtFile leaves it out).
      try {
        next = withSourceFrontmatter(next, fs.readFileSync(path.join(this.o.dir, key), 'utf8'));
      } catch {
        // no local file: the metadata alone
      }
      const set = await this.o.command('SetCrdtFile', { path: key, metadata: next });
      if (!set.success) throw new Error(`updating the attachment reference of ${key} failed: ${set.error ?? ''}`);
    }
  }

  /**
   * After a pass of an encrypted workspace, the blobs its live entries name
   * (read again: the pass filled references), for the server's collection;
   * sent when they changed since the last list this process sent.
   */
  private async sendLive(): Promise<void> {
    const { live } = await this.references();
    const key = [...live].sort().join(',');
    if (key === this.lastLive) return;
    await this.client.sendLive(live);
    this.lastLive = key;
  }

  /** Names each file of the folder that no entry references, once. */
  private reportUnreferenced(refs: Map<string, Reference>): void {
    const now = new Set<string>();
    const walk = (rel: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(path.join(this.o.dir, rel), { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(child);
        else if (e.isFile() && !e.name.toLowerCase().endsWith('.md') && !refs.has(child)) now.add(child);
      }
    };
    walk('');
    for (const p of now) if (!this.unreferenced.has(p)) this.o.report({ kind: 'unreferenced', path: p });
    for (const p of this.unreferenced) if (!now.has(p) && refs.has(p)) this.o.report({ kind: 'referenced', path: p });
    this.unreferenced = now;
  }

  /** Paths referenced but not in the folder as the workspace names them, for `--once` (after `idle()`). */
  async differences(): Promise<{ path: string; problem: string }[]> {
    const out: { path: string; problem: string }[] = [];
    for (const [p, reason] of this.failures) out.push({ path: p, problem: `attachment not transferred: ${reason}` });
    return out;
  }
}

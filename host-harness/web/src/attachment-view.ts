/**
 * The pictures the open entry references (front matter `attachments:` and
 * images linked from its body), shown under the editor. A picture missing
 * from the in-browser folder is downloaded on display, as the Diaryx web app
 * does: by the hash of its BinaryRef (or, for a body link, the latest upload
 * of that path the server lists), checked against that hash, and kept in the
 * folder. In an end-to-end encrypted workspace a BinaryRef carries `e2ee`:
 * the sealed blob is fetched by its address and opened here with the
 * plugin's attachment keys (GetAttachmentKeys) before anything is kept.
 */
import { decryptAttachment } from '../../../common/src/e2ee/attachment-blob';
import { parseAttachmentKeys } from '../../../common/src/e2ee/attachment-keys';
import { splitFrontmatter } from '../../../common/src/workspace/frontmatter';
import type { BinaryRef, EncryptedBlobRef, FileMetadata } from '../../../common/src/workspace/metadata';
import { mimeTypeOf } from '../../../common/src/workspace/mime-types';
import { bodyReferences } from '../../src/attachments/references';
import type { PluginRunner } from './call-queue';
import type { MemoryFolder } from './memory-folder';
import { h } from './settings';

export interface AttachmentViewDeps {
  folder: MemoryFolder;
  runner: PluginRunner;
  token: () => string;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class AttachmentView {
  readonly element = h('section', { class: 'attachments', id: 'attachments', 'aria-label': 'Pictures of this entry' });
  private urls: string[] = [];
  private shown = 0;

  constructor(private readonly deps: AttachmentViewDeps) {}

  /** Shows the pictures of `entryPath` (none for null). */
  async show(entryPath: string | null): Promise<void> {
    const run = ++this.shown;
    const text = entryPath === null ? null : this.deps.folder.readText(entryPath);
    if (entryPath === null || text === null) return this.render(run, []);
    const refs = new Map<string, { hash: string; e2ee?: EncryptedBlobRef }>();
    const meta = await this.deps.runner.command('GetCrdtFile', { path: entryPath });
    if (meta.success && meta.data && typeof meta.data === 'object') {
      for (const a of (meta.data as FileMetadata).attachments as BinaryRef[]) if (!a.deleted) refs.set(a.path, { hash: a.hash, e2ee: a.e2ee });
    }
    for (const p of bodyReferences(entryPath, splitFrontmatter(text).body)) if (!refs.has(p)) refs.set(p, { hash: '' });
    const items: HTMLElement[] = [];
    for (const [p, ref] of [...refs].filter(([p]) => mimeTypeOf(p).startsWith('image/'))) {
      let bytes = this.deps.folder.read(p);
      let problem = '';
      if (bytes === null) {
        try {
          bytes = await this.download(p, ref);
        } catch (e) {
          problem = (e as Error).message;
        }
      }
      if (bytes === null) {
        items.push(h('div', { class: 'attachment missing', 'data-path': p }, `${p}: ${problem || 'not available'}`));
        continue;
      }
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mimeTypeOf(p) }));
      this.urls.push(url);
      items.push(h('figure', { class: 'attachment', 'data-path': p }, h('img', { src: url, alt: p }), h('figcaption', {}, p)));
    }
    this.render(run, items);
  }

  private render(run: number, items: HTMLElement[]): void {
    if (run !== this.shown) return;
    for (const u of this.urls.splice(0, this.urls.length - items.length)) URL.revokeObjectURL(u);
    this.element.replaceChildren(...items);
  }

  /** Downloads a picture into the folder; null when the workspace is not linked to a server. */
  private async download(p: string, ref: { hash: string; e2ee?: EncryptedBlobRef }): Promise<Uint8Array | null> {
    const res = await this.deps.runner.command('get_config', {});
    const config = (res.success ? res.data : null) as { server_url?: string; workspace_id?: string } | null;
    const token = this.deps.token();
    if (!config?.server_url || !config.workspace_id || !token) return null;
    const base = `${config.server_url.replace(/^ws/, 'http').replace(/\/sync2\/?$/, '').replace(/\/+$/, '')}/api/workspaces/${encodeURIComponent(config.workspace_id)}/attachments`;
    const q = `?token=${encodeURIComponent(token)}`;
    if (ref.e2ee) return this.downloadSealed(p, ref.hash, ref.e2ee, base, q);
    let hash = ref.hash;
    if (hash === '') {
      const list = await fetch(base + q);
      if (!list.ok) throw new Error(`listing attachments: HTTP ${list.status}`);
      hash = ((await list.json()) as { path: string; hash: string }[]).find((x) => x.path === p)?.hash ?? '';
      if (hash === '') throw new Error('not on the server');
    }
    const got = await fetch(`${base}/${hash}${q}`);
    if (!got.ok) throw new Error(`download: HTTP ${got.status}`);
    const bytes = new Uint8Array(await got.arrayBuffer());
    if ((await sha256Hex(bytes)) !== hash) throw new Error('downloaded bytes do not match their hash');
    this.deps.folder.write(p, bytes, true);
    return bytes;
  }

  /** Fetches a sealed blob by its address and opens it (address, every chunk, FK, then the file's hash); nothing is kept otherwise. */
  private async downloadSealed(p: string, hash: string, blob: EncryptedBlobRef, base: string, q: string): Promise<Uint8Array> {
    const res = await this.deps.runner.command('GetAttachmentKeys', {});
    if (!res.success) throw new Error(res.error ?? 'no attachment keys');
    const key = parseAttachmentKeys(res.data).keys.get(blob.epoch);
    if (!key) throw new Error(`Missing key for epoch ${blob.epoch}`);
    const got = await fetch(`${base}/${blob.addr}${q}`);
    if (!got.ok) throw new Error(`download: HTTP ${got.status}`);
    const bytes = decryptAttachment(key, blob, new Uint8Array(await got.arrayBuffer()));
    if (hash !== '' && (await sha256Hex(bytes)) !== hash) throw new Error('the decrypted file does not match its hash');
    this.deps.folder.write(p, bytes, true);
    return bytes;
  }
}

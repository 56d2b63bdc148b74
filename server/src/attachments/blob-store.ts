/**
 * Content-addressed blob files under the data folder:
 *
 *   <root>/blobs/<hash[0..2]>/<hash>     one file per sha256, written whole or not at all
 *   <root>/uploads/<upload_id>/<n>       received parts of an upload in progress
 *   <root>/tmp/                          files being written (renamed into place when checked)
 *
 * Every write goes to a temp name first and is renamed only after its length
 * (parts) or hash (blobs) was checked, so a file under `blobs/` is always
 * whole: nothing half-written is ever served. Bytes stream through; no blob
 * is held whole in memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** A sha256 hex digest as the API takes it. */
export const HASH_PATTERN = /^[0-9a-f]{64}$/;
/** An upload id (a UUID). */
export const UPLOAD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A part whose body is not the announced length. */
export class PartLengthError extends Error {
  override name = 'PartLengthError';
}

export class BlobStore {
  constructor(readonly root: string) {
    for (const dir of ['blobs', 'uploads', 'tmp']) fs.mkdirSync(path.join(root, dir), { recursive: true });
    // Temp files of a previous run are leftovers of interrupted writes.
    for (const name of fs.readdirSync(path.join(root, 'tmp'))) fs.rmSync(path.join(root, 'tmp', name), { force: true, recursive: true });
  }

  /** Path of the blob of `hash` (which must match HASH_PATTERN). */
  blobPath(hash: string): string {
    if (!HASH_PATTERN.test(hash)) throw new Error(`not a sha256 hex digest: ${hash}`);
    return path.join(this.root, 'blobs', hash.slice(0, 2), hash);
  }

  /** Size of the stored blob, or null when there is none. */
  async blobSize(hash: string): Promise<number | null> {
    try {
      return (await fs.promises.stat(this.blobPath(hash))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new Error(`not an upload id: ${uploadId}`);
    return path.join(this.root, 'uploads', uploadId);
  }

  private tempPath(): string {
    return path.join(this.root, 'tmp', randomUUID());
  }

  /** The part numbers (from 1) of an upload that were received whole. */
  async receivedParts(uploadId: string): Promise<number[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.uploadDir(uploadId));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names.filter((n) => /^[1-9]\d*$/.test(n)).map(Number).sort((a, b) => a - b);
  }

  /**
   * Streams a request body into part `n` of an upload. The body must be
   * exactly `length` bytes: more is cut off at once, fewer is refused; either
   * way nothing is kept. A part received again replaces the earlier one.
   */
  async writePart(uploadId: string, n: number, req: IncomingMessage, length: number): Promise<void> {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > length) throw new PartLengthError(`part ${n} is larger than ${length} bytes (${declared})`);
    if (declared !== undefined && Number(declared) !== length) {
      throw new PartLengthError(`part ${n} must be ${length} bytes, the request announces ${declared}`);
    }
    const dir = this.uploadDir(uploadId);
    await fs.promises.mkdir(dir, { recursive: true });
    const tmp = this.tempPath();
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.byteLength;
        if (size > length) done(new PartLengthError(`part ${n} is larger than ${length} bytes`));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(req, counter, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      if (size !== length) throw new PartLengthError(`part ${n} must be ${length} bytes, got ${size}`);
      await fs.promises.rename(tmp, path.join(dir, String(n)));
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw e;
    }
  }

  /** Up to `bytes` first bytes of part `n` of an upload (fewer when the part is shorter). */
  async partHead(uploadId: string, n: number, bytes: number): Promise<Uint8Array> {
    const fh = await fs.promises.open(path.join(this.uploadDir(uploadId), String(n)), 'r');
    try {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await fh.read(buf, 0, bytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  /**
   * Joins the parts 1..totalParts of an upload into the blob of `hash`. Resolves
   * true when the bytes hash to `hash` (the blob is then in place; an equal
   * blob already stored is kept), false when they do not (nothing is stored).
   */
  async assemble(uploadId: string, totalParts: number, hash: string): Promise<boolean> {
    const dir = this.uploadDir(uploadId);
    const tmp = this.tempPath();
    const digest = createHash('sha256');
    const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    try {
      for (let n = 1; n <= totalParts; n++) {
        for await (const chunk of fs.createReadStream(path.join(dir, String(n))) as AsyncIterable<Buffer>) {
          digest.update(chunk);
          if (!out.write(chunk)) await once(out, 'drain');
        }
      }
      await new Promise<void>((resolve, reject) => {
        out.once('error', reject);
        out.end(() => resolve());
      });
      // Durable before it becomes visible under its name.
      const fh = await fs.promises.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (digest.digest('hex') !== hash) return false;
      const target = this.blobPath(hash);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await fs.promises.rename(tmp, target);
      return true;
    } finally {
      out.destroy();
      await fs.promises.rm(tmp, { force: true });
    }
  }

  /**
   * A blob written chunk by chunk with synchronous writes (for callers that
   * cannot wait between chunks: nothing accumulates in memory). `commit`
   * renames it into place under its hash; `abort` (a no-op after commit)
   * removes it.
   */
  openWriter(): { write(chunk: Uint8Array): void; commit(): Promise<{ hash: string; size: number }>; abort(): void } {
    const tmp = this.tempPath();
    const fd = fs.openSync(tmp, 'wx', 0o600);
    const digest = createHash('sha256');
    let size = 0;
    let open = true;
    const close = () => {
      if (open) fs.closeSync(fd);
      open = false;
    };
    return {
      write: (chunk) => {
        digest.update(chunk);
        size += chunk.byteLength;
        let off = 0;
        while (off < chunk.byteLength) off += fs.writeSync(fd, chunk, off);
      },
      commit: async () => {
        fs.fsyncSync(fd);
        close();
        const hash = digest.digest('hex');
        const target = this.blobPath(hash);
        await fs.promises.mkdir(path.dirname(target), { recursive: true });
        await fs.promises.rename(tmp, target);
        return { hash, size };
      },
      abort: () => {
        close();
        fs.rmSync(tmp, { force: true });
      },
    };
  }

  /** Removes an upload's parts. */
  async removeUpload(uploadId: string): Promise<void> {
    await fs.promises.rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }

  /** Removes a blob (garbage collection). */
  async removeBlob(hash: string): Promise<void> {
    await fs.promises.rm(this.blobPath(hash), { force: true });
  }

  /** When a blob's file was last written (ms since the epoch), or null when there is none. */
  async blobWrittenAt(hash: string): Promise<number | null> {
    try {
      return (await fs.promises.stat(this.blobPath(hash))).mtimeMs;
    } catch {
      return null;
    }
  }

  /** Every stored blob's hash. */
  async listBlobs(): Promise<string[]> {
    const out: string[] = [];
    for (const prefix of await fs.promises.readdir(path.join(this.root, 'blobs'))) {
      for (const name of await fs.promises.readdir(path.join(this.root, 'blobs', prefix))) if (HASH_PATTERN.test(name)) out.push(name);
    }
    return out.sort();
  }
}

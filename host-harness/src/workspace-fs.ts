/**
 * The workspace folder as the host functions see it: workspace-relative path
 * normalisation, confinement to the folder (no `..`, no symlink escapes),
 * atomic writes and recursive listings.
 *
 * Path rules: common/src/host/paths.ts; in addition, a path whose real
 * location (after following symlinks) lies outside the folder is refused the
 * same way.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { normalizeWorkspacePath, PathRefusedError } from '../../common/src/host/paths';

/** Name prefix of the temp files the atomic writer creates (dot files, never synced). */
export const TEMP_PREFIX = '.diaryx-tmp-';

function isInside(root: string, target: string): boolean {
  if (target === root) return true;
  const rel = path.relative(root, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** One workspace folder; every method takes workspace-relative (or host-style) paths. */
export class WorkspaceFs {
  readonly root: string;
  private readonly realRoot: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    fs.mkdirSync(this.root, { recursive: true });
    this.realRoot = fs.realpathSync(this.root);
  }

  /**
   * Native Diaryx hosts hand the plugin absolute paths under the workspace
   * root (the plugin joins its `workspace_root` with the file key): those are
   * made relative to the folder first.
   */
  private stripRoot(input: string): string {
    const p = input.replace(/\\/g, '/');
    for (const root of [this.root, this.realRoot]) {
      const r = root.replace(/\\/g, '/');
      if (p === r) return '';
      if (p.startsWith(r + '/')) return p.slice(r.length + 1);
    }
    return input;
  }

  /**
   * Absolute location of `input`, after checking that it and its nearest
   * existing ancestor stay inside the folder once symlinks are followed.
   */
  resolve(input: string): { rel: string; abs: string } {
    const rel = normalizeWorkspacePath(this.stripRoot(input));
    const abs = rel === '' ? this.root : path.join(this.root, ...rel.split('/'));
    // Follow symlinks on the longest existing prefix of the path.
    let probe = abs;
    for (;;) {
      let real: string | null = null;
      try {
        real = fs.realpathSync(probe);
      } catch {
        real = null;
      }
      if (real !== null) {
        if (!isInside(this.realRoot, real)) throw new PathRefusedError(input);
        break;
      }
      // A dangling symlink: refuse, it could point anywhere once created.
      try {
        if (fs.lstatSync(probe).isSymbolicLink()) throw new PathRefusedError(input);
      } catch (e) {
        if (e instanceof PathRefusedError) throw e;
      }
      const parent = path.dirname(probe);
      if (parent === probe) break;
      probe = parent;
    }
    return { rel, abs };
  }

  /** Workspace-relative form of an absolute path inside the folder (with `/` separators). */
  relative(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/');
  }

  readBytes(input: string): Uint8Array {
    const { abs } = this.resolve(input);
    return fs.readFileSync(abs);
  }

  /** Writes atomically: a temp file in the same directory, then a rename over the target. */
  writeBytes(input: string, data: Uint8Array): string {
    const { rel, abs } = this.resolve(input);
    if (rel === '') throw new Error('Cannot write to the workspace folder itself');
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    // mkdir may have followed a symlinked ancestor created in between: check again.
    this.resolve(input);
    atomicWrite(abs, data);
    return rel;
  }

  /** Deletes a file; a file that is already absent counts as deleted. */
  deleteFile(input: string): string {
    const { rel, abs } = this.resolve(input);
    if (rel === '') throw new Error('Cannot delete the workspace folder');
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return rel;
      throw e;
    }
    if (st.isDirectory()) throw new Error(`Is a directory: ${rel}`);
    fs.unlinkSync(abs);
    return rel;
  }

  exists(input: string): boolean {
    try {
      const { abs } = this.resolve(input);
      return fs.existsSync(abs);
    } catch {
      return false;
    }
  }

  /**
   * Every entry under `prefix`, recursively, directories and files, as
   * workspace-relative paths in sorted order. Symlinked directories are listed
   * but not descended into; a missing prefix gives [].
   */
  listRecursive(prefix: string): string[] {
    const { rel, abs } = this.resolve(prefix);
    const out: string[] = [];
    const walk = (dirAbs: string, dirRel: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dirAbs, { withFileTypes: true });
      } catch {
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        if (entry.name.startsWith(TEMP_PREFIX)) continue;
        const childRel = dirRel === '' ? entry.name : `${dirRel}/${entry.name}`;
        out.push(childRel);
        if (entry.isDirectory()) walk(path.join(dirAbs, entry.name), childRel);
      }
    };
    walk(abs, rel);
    return out;
  }

  /** Direct children of a directory as workspace-relative paths; throws if it is not a directory. */
  listDir(input: string): string[] {
    const { rel, abs } = this.resolve(input);
    return fs
      .readdirSync(abs)
      .filter((name) => !name.startsWith(TEMP_PREFIX))
      .sort()
      .map((name) => (rel === '' ? name : `${rel}/${name}`));
  }

  stat(input: string): fs.Stats | null {
    try {
      const { abs } = this.resolve(input);
      return fs.statSync(abs);
    } catch {
      return null;
    }
  }
}

/** Writes `data` to `file` through a temp file in the same directory and a rename. */
export function atomicWrite(file: string, data: Uint8Array, mode = 0o644): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      let off = 0;
      while (off < data.byteLength) off += fs.writeSync(fd, data, off, data.byteLength - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // the temp file was renamed or never created
    }
    throw e;
  }
}

/** Lower-case hex SHA-256 of some bytes. */
export function sha256Hex(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

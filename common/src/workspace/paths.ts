/**
 * Workspace path keys.
 *
 * Every file in the workspace doc, every body doc and every wire doc id is
 * keyed by a workspace-relative path with forward slashes ("notes/day.md").
 * Two normalisers live here:
 *
 * - `normalizeSyncKey` is the lenient form the Diaryx sync crate uses for CRDT
 *   keys (`normalize_sync_path`): `\` -> `/`, then leading `./` and `/` are
 *   stripped. It never fails; it is what the workspace doc uses to dedupe alias
 *   keys that may arrive from other peers.
 * - `normalizeSyncPath` is the strict form for paths that come from the host
 *   (events, commands). It additionally strips the workspace root, collapses
 *   empty and `.` components, and rejects what can never be a workspace key:
 *   empty paths, NUL, `..` components and absolute paths outside the root.
 *
 * Backslashes: the Diaryx hosts treat `\` as a path separator (Windows paths
 * reach the plugin unchanged), so `\` is converted to `/` BEFORE the `..`
 * check; `a\..\b.md` is therefore rejected like `a/../b.md`. A file name that
 * really contains a backslash cannot be synced, as in the original.
 *
 * Absolute paths: with a workspace root, a path under the root is made relative.
 * A path starting with `/` that is not under the root is treated as an
 * absolute host path (rejected) when its first component is the root's first
 * component (`/Users/bob/x.md` for root `/Users/alice/ws`), otherwise as the
 * root alias `/key` of a workspace key. Drive-letter (`C:/...`) and UNC
 * (`//server/...`) paths outside the root are always rejected.
 */

/** A path that cannot be turned into a workspace key. */
export class PathError extends Error {
  override name = 'PathError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Invalid sync path ${JSON.stringify(path)}: ${reason}`);
  }
}

/**
 * The sync crate's `normalize_sync_path`: backslashes to `/`, then every
 * leading `./`, then every leading `/` removed. Never throws.
 */
export function normalizeSyncKey(path: string): string {
  let p = path.replace(/\\/g, '/');
  while (p.startsWith('./')) p = p.slice(2);
  while (p.startsWith('/')) p = p.slice(1);
  return p;
}

function stripLeading(p: string): string {
  for (;;) {
    if (p.startsWith('./')) p = p.slice(2);
    else if (p.startsWith('/')) p = p.slice(1);
    else return p;
  }
}

function isDriveAbsolute(p: string): boolean {
  return /^[A-Za-z]:(\/|$)/.test(p);
}

/** Root with forward slashes and without trailing `/` (drive roots keep theirs). */
function normalizeRoot(root: string): string {
  let r = root.replace(/\\/g, '/');
  while (r.length > 1 && r.endsWith('/') && !/^[A-Za-z]:\/$/.test(r)) r = r.slice(0, -1);
  return r;
}

/** `path` relative to `root`, or null when it is not under it. Accepts the `Users/...` form of `/Users/...`. */
function stripRoot(path: string, root: string): string | null {
  if (root === '' || root === '/') return null;
  const candidates = [root];
  const bare = root.replace(/^\/+/, '');
  if (bare !== root && bare !== '') candidates.push(bare);
  for (const c of candidates) {
    if (path === c) return '';
    const prefix = c.endsWith('/') ? c : c + '/';
    if (path.startsWith(prefix)) return path.slice(prefix.length);
  }
  return null;
}

function firstComponent(p: string): string {
  const parts = p.split('/').filter((s) => s !== '');
  return parts.length > 0 ? parts[0] : '';
}

/**
 * Workspace-relative key for a host path. Throws PathError for empty paths,
 * NUL, `..` components and absolute paths outside `workspaceRoot`.
 */
export function normalizeSyncPath(path: string, workspaceRoot?: string | null): string {
  if (path.includes('\0')) throw new PathError(path, 'contains NUL');
  let p = path.replace(/\\/g, '/');
  if (workspaceRoot !== undefined && workspaceRoot !== null && workspaceRoot.trim() !== '') {
    const root = normalizeRoot(workspaceRoot);
    const rel = stripRoot(p, root);
    if (rel !== null) {
      p = rel;
    } else if (isDriveAbsolute(p) || p.startsWith('//')) {
      throw new PathError(path, 'absolute path outside the workspace root');
    } else if (p.startsWith('/') && firstComponent(p) === firstComponent(root) && firstComponent(root) !== '') {
      throw new PathError(path, 'absolute path outside the workspace root');
    }
  } else if (isDriveAbsolute(p) || p.startsWith('//')) {
    throw new PathError(path, 'absolute path outside the workspace');
  }
  p = stripLeading(p);
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new PathError(path, "contains a '..' component");
    parts.push(part);
  }
  if (parts.length === 0) throw new PathError(path, 'empty path');
  return parts.join('/');
}

/** Helper files of the safe-write protocol (`.tmp`, `.bak`, `.swap`): never synced. */
export function isTempFile(key: string): boolean {
  return key.endsWith('.tmp') || key.endsWith('.bak') || key.endsWith('.swap');
}

/** The alias spellings of a key that older clients may have written: `./key` and `/key`. */
export function aliasKeys(key: string): [string, string] {
  return ['./' + key, '/' + key];
}

/** Last path component (`notes/a.md` -> `a.md`); '' when there is none or it is `..`. */
export function fileName(path: string): string {
  const parts = path.split('/').filter((s) => s !== '' && s !== '.');
  const last = parts.length > 0 ? parts[parts.length - 1] : '';
  return last === '..' ? '' : last;
}

/** Parent folder of a key (`notes/a.md` -> `notes`, `a.md` -> ''). */
export function parentDir(path: string): string {
  const parts = path.split('/').filter((s) => s !== '' && s !== '.');
  parts.pop();
  return parts.join('/');
}

/**
 * Orders strings by Unicode code point (the order of Rust's `String` and of
 * UTF-8 bytes), which differs from `<` only for astral characters.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

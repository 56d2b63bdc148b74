/**
 * Front matter link values (`part_of`, `contents`, `attachments`), as the
 * Diaryx core link parser reads and writes them.
 *
 * Read: `[Title](/x/y.md)`, `[Title](</a b.md>)`, `/x/y.md` (workspace-root),
 * `../x.md` / `./x.md` (relative) and bare `x.md` (ambiguous, resolved like a
 * relative path against the folder of the file that contains the link).
 * Write: `[Title](/workspace/key.md)`, the URL wrapped in `<...>` when it
 * contains a space or a parenthesis. Titles written for links come from the
 * target's file name (`pathToTitle`), not from the target's metadata.
 */

export type PathType = 'WorkspaceRoot' | 'Relative' | 'Ambiguous';

export interface ParsedLink {
  title: string | null;
  /** Without the leading `/` for workspace-root paths; not normalised. */
  path: string;
  pathType: PathType;
}

/** Rust's `char::is_whitespace` set (Unicode White_Space). */
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM_RE = new RegExp(`^[${WS}]+|[${WS}]+$`, 'g');
const SPLIT_RE = new RegExp(`[${WS}]+`);

/** `str::trim` (Unicode White_Space; unlike JS `trim`, a BOM is kept). */
export function rustTrim(s: string): string {
  return s.replace(TRIM_RE, '');
}

/** `str::split_whitespace`. */
export function rustSplitWhitespace(s: string): string[] {
  return s.split(SPLIT_RE).filter((w) => w !== '');
}

function determinePathType(path: string): PathType {
  if (path.startsWith('/')) return 'WorkspaceRoot';
  if (path.startsWith('../') || path.startsWith('./') || path === '..' || path === '.') return 'Relative';
  return 'Ambiguous';
}

function findClosingParen(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function tryParseMarkdownLink(value: string): ParsedLink | null {
  if (!value.startsWith('[')) return null;
  const closeBracket = value.indexOf(']');
  if (closeBracket < 0 || !value.startsWith('](', closeBracket)) return null;
  const rest = value.slice(closeBracket + 2);
  const title = value.slice(1, closeBracket);
  let rawPath: string;
  if (rest.startsWith('<')) {
    const closeAngle = rest.indexOf('>');
    if (closeAngle < 0 || rest[closeAngle + 1] !== ')') return null;
    rawPath = rest.slice(1, closeAngle);
  } else {
    const closeParen = findClosingParen(rest);
    if (closeParen < 0) return null;
    rawPath = rest.slice(0, closeParen);
  }
  const pathType = determinePathType(rawPath);
  const path = pathType === 'WorkspaceRoot' ? rawPath.slice(1) : rawPath;
  return { title, path, pathType };
}

/** `link_parser::parse_link`. */
export function parseLink(value: string): ParsedLink {
  const v = rustTrim(value);
  const md = tryParseMarkdownLink(v);
  if (md) return md;
  const pathType = determinePathType(v);
  return { title: null, path: pathType === 'WorkspaceRoot' ? v.slice(1) : v, pathType };
}

/** Resolves `.` and `..` components (a `..` that cannot pop is kept). */
function normalizeParts(parts: string[]): string {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else out.push('..');
    } else {
      out.push(p);
    }
  }
  return out.join('/');
}

/** `link_parser::normalize_workspace_path`. */
export function normalizeWorkspacePath(path: string): string {
  return normalizeParts(path.split('/'));
}

/** `link_parser::to_canonical`: workspace key of a parsed link found in `currentFilePath`. */
export function toCanonical(parsed: ParsedLink, currentFilePath: string): string {
  if (parsed.pathType === 'WorkspaceRoot') return normalizeWorkspacePath(parsed.path);
  const dir = currentFilePath.split('/').filter((p) => p !== '' && p !== '.');
  dir.pop();
  return normalizeParts([...dir, ...parsed.path.split('/')]);
}

/** `link_parser::format_link`: `[title](/path)`, URL in `<...>` if it has a space or parenthesis. */
export function formatLink(canonicalPath: string, title: string): string {
  const url = '/' + canonicalPath;
  const wrapped = url.includes(' ') || url.includes('(') || url.includes(')') ? `<${url}>` : url;
  return `[${title}](${wrapped})`;
}

/** Rust `Path::file_name` on a `/`-separated path; null for '', '/', '.', '..'. */
export function rustFileName(path: string): string | null {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) return null;
  const last = parts[parts.length - 1];
  return last === '..' ? null : last;
}

/** Rust `Path::file_stem`. */
function fileStem(path: string): string | null {
  const name = rustFileName(path);
  if (name === null) return null;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return name;
  return name.slice(0, dot);
}

/** `link_parser::path_to_title`: stem, `_`/`-` -> space, words capitalised (ASCII). */
export function pathToTitle(path: string): string {
  const stem = fileStem(path) ?? path;
  const spaced = stem.replace(/[_-]/g, ' ');
  return rustSplitWhitespace(spaced)
    .map((w) => {
      const first = w.codePointAt(0) as number;
      const len = first > 0xffff ? 2 : 1;
      const head = first >= 0x61 && first <= 0x7a ? String.fromCharCode(first - 32) : w.slice(0, len);
      return head + w.slice(len);
    })
    .join(' ');
}

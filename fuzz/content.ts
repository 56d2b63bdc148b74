/**
 * What the simulated user types: paths, titles, body text (ASCII, accents,
 * CJK, RTL, emoji with modifiers, combining marks, zero-width joiners), long
 * bodies, and unique edit markers ("tokens") that let the checker follow each
 * edit to the end of the run. Files are written in the plugin's own front
 * matter format (renderFileMarkdown), so every device can hold them byte for
 * byte.
 *
 * Text positions are counted in code points, so an edit never splits a
 * surrogate pair (a user's editor would not either).
 */
import { parseFileMarkdown, renderFileMarkdown, splitFrontmatter } from '../common/src/workspace/frontmatter';
import { emptyMetadata, type FileMetadata } from '../common/src/workspace/metadata';
import type { Prng } from './prng';

const FOLDERS = ['', '', 'notes', 'journal/2026', 'Ünïcode', 'deep/a/b'];
const NAMES = ['today', 'ideas', 'todo', 'café', '日記', 'reading list', 'draft', 'x', 'Ωmega', 'notes-1'];
const TITLES = ['Today', 'Ideas', 'Todo', 'Café ☕', '日記', 'Reading list', 'Draft', 'Ωmega', 'Untitled'];
const WORDS = ['lorem', 'ipsum', 'sync', 'offline', 'merge', 'the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'and', 'then'];
const EXOTIC = ['café', 'naïve', 'Ünïcode', '日本語のテキスト', 'العربية', 'עברית', '😀', '👍🏽', '👩‍👩‍👧', '🏳️‍🌈', 'e\u0301', '\u200b', 'ǅ', '𝔘𝔫𝔦', '—', '«»', '\t', '  '];
const DESCRIPTIONS = ['A note', 'Ideas for later', 'Notizen über Größe', '説明', 'Quote: "x"'];
const EXTRA_KEYS = ['mood', 'tags', 'priority', 'status'];

/** Token: `⟦` + 10 base32 characters + `⟧`, unique per run, unrelated to each other. */
export const TOKEN_RE = /⟦[a-z2-7]{10}⟧/g;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function tokensIn(text: string): Set<string> {
  return new Set(text.match(TOKEN_RE) ?? []);
}

/**
 * Whether `token` is in `text`, possibly split by text inserted inside it: a
 * concurrent insert at a position within a token (where a minimal edit kept
 * part of an old token) is a correct merge, not a loss. One insertion point
 * leaves one half of the token whole, and each half is unique in a run.
 */
export function containsToken(text: string, token: string): boolean {
  const half = Math.floor(token.length / 2);
  return text.includes(token) || text.includes(token.slice(0, half)) || text.includes(token.slice(half));
}

export class TokenMint {
  private n = 0;
  constructor(private readonly seed: number) {}

  /** A new token (`device` is kept by the ledger, not in the text). */
  next(_device: number): string {
    let x = (this.seed ^ Math.imul(++this.n, 0x9e3779b9)) >>> 0;
    let id = '';
    for (let i = 0; i < 10; i++) {
      x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 0;
      x = (x ^ (x >>> 12) ^ Math.imul(this.n + i, 0x297a2d39)) >>> 0;
      id += BASE32[x & 31];
    }
    return `⟦${id}⟧`;
  }
}

export function randomFolder(rng: Prng): string {
  return rng.pick(FOLDERS);
}

/**
 * A run's canary (encrypted runs): a distinctive string put into every file
 * name and title, so the plaintext scan finds any name or path that reaches
 * the server in the clear. Null in plain runs (their names stay as they were).
 */
let canary: string | null = null;

export function setNameCanary(value: string | null): void {
  canary = value;
}

/** The canary of a seed: `cnry` and 8 base32 characters. */
export function canaryOf(seed: number): string {
  let x = (seed ^ 0x6a09e667) >>> 0;
  let id = 'cnry';
  for (let i = 0; i < 8; i++) {
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 0;
    x = (x ^ (x >>> 12) ^ Math.imul(i + 1, 0x297a2d39)) >>> 0;
    id += BASE32[x & 31];
  }
  return id;
}

function pickTitle(rng: Prng): string {
  const title = rng.pick(TITLES);
  return canary === null ? title : `${title} ${canary}`;
}

export function randomFileName(rng: Prng): string {
  const picked = rng.pick(NAMES);
  const base = canary === null ? picked : `${picked}-${canary}`;
  return rng.chance(0.5) ? `${base}.md` : `${base}-${rng.int(4)}.md`;
}

export function randomPath(rng: Prng): string {
  const folder = randomFolder(rng);
  const name = randomFileName(rng);
  return folder === '' ? name : `${folder}/${name}`;
}

function words(rng: Prng, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(rng.chance(0.15) ? rng.pick(EXOTIC) : rng.pick(WORDS));
  return out.join(' ');
}

/** A fragment of text, possibly with a token and line breaks. */
export function fragment(rng: Prng, token: string | null): string {
  let s = words(rng, rng.range(1, 6));
  if (token) s = rng.chance(0.5) ? `${token} ${s}` : `${s} ${token}`;
  if (rng.chance(0.3)) s += '\n';
  if (rng.chance(0.1)) s = `\n${s}\n`;
  return s;
}

/** A long body (about 2 to 30 KB) with tokens spread through it. */
export function longText(rng: Prng, mint: TokenMint, device: number): string {
  const target = rng.range(2_000, 30_000);
  const lines: string[] = [];
  let size = 0;
  while (size < target) {
    const line = `${words(rng, rng.range(5, 16))}${rng.chance(0.1) ? ` ${mint.next(device)}` : ''}`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

/** A new body: a leading newline (the format's convention) and a few fragments. */
export function newBody(rng: Prng, mint: TokenMint, device: number): string {
  if (rng.chance(0.05)) return `\n${longText(rng, mint, device)}`;
  const parts: string[] = [];
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) parts.push(fragment(rng, mint.next(device)));
  return `\n${parts.join('\n')}\n`;
}

/** Random metadata for a new file. */
export function newMetadata(rng: Prng, filePath: string, now: number): FileMetadata {
  const meta = emptyMetadata(filePath.split('/').pop() ?? filePath);
  if (rng.chance(0.8)) meta.title = pickTitle(rng);
  if (rng.chance(0.2)) meta.description = rng.pick(DESCRIPTIONS);
  if (rng.chance(0.2)) meta.extra[rng.pick(EXTRA_KEYS)] = rng.chance(0.5) ? rng.pick(WORDS) : rng.int(5);
  meta.modified_at = now;
  return meta;
}

export function renderFile(meta: FileMetadata, body: string): string {
  return renderFileMarkdown(meta, body);
}

/** Applies one random body edit (insert, delete, replace, append long text) at code point positions. */
export function editBody(rng: Prng, body: string, mint: TokenMint, device: number): string {
  const cps = Array.from(body);
  const kind = rng.weighted({ insert: 5, delete: 2, replace: 2, append: 1, long: 0.3, clear: 0.1 });
  const at = rng.int(cps.length + 1);
  switch (kind) {
    case 'insert': {
      const pos = rng.chance(0.4) ? nearLineStart(cps, at) : at;
      cps.splice(pos, 0, ...Array.from(fragment(rng, mint.next(device))));
      break;
    }
    case 'delete': {
      const len = rng.chance(0.8) ? rng.range(1, 12) : rng.range(1, Math.max(1, cps.length));
      cps.splice(Math.min(at, Math.max(0, cps.length - 1)), len);
      break;
    }
    case 'replace': {
      const len = rng.range(1, 20);
      cps.splice(Math.min(at, cps.length), len, ...Array.from(fragment(rng, mint.next(device))));
      break;
    }
    case 'append':
      cps.push(...Array.from(fragment(rng, mint.next(device))));
      break;
    case 'long':
      cps.push(...Array.from(longText(rng, mint, device)));
      break;
    case 'clear':
      return '\n';
  }
  return cps.join('');
}

function nearLineStart(cps: string[], at: number): number {
  let i = at;
  while (i > 0 && cps[i - 1] !== '\n') i--;
  return i;
}

/** Splits a file into its front matter block (verbatim, with delimiters) and body. */
export function splitFile(text: string): { head: string; body: string } {
  const { yaml, body } = splitFrontmatter(text);
  if (yaml === null) return { head: '', body: text };
  return { head: text.slice(0, text.length - body.length), body };
}

/** Parses a file as the plugin would (metadata + body). */
export function parseFile(filePath: string, text: string, now: number): { metadata: FileMetadata; body: string } {
  return parseFileMarkdown(filePath, text, () => now);
}

/** A random front matter change: title, description or an extra key; `updated` becomes now. */
export function editMetadata(rng: Prng, meta: FileMetadata, now: number): FileMetadata {
  const next: FileMetadata = { ...meta, extra: { ...meta.extra } };
  switch (rng.weighted({ title: 3, description: 1, extra: 2, dropExtra: 1 })) {
    case 'title':
      next.title = rng.chance(0.1) ? null : pickTitle(rng);
      break;
    case 'description':
      next.description = rng.chance(0.2) ? null : rng.pick(DESCRIPTIONS);
      break;
    case 'extra': {
      const key = rng.pick(EXTRA_KEYS);
      next.extra[key] = key === 'tags' ? [rng.pick(WORDS), rng.pick(WORDS)] : rng.chance(0.5) ? rng.pick(WORDS) : rng.int(9);
      break;
    }
    case 'dropExtra': {
      const keys = Object.keys(next.extra);
      if (keys.length > 0) delete next.extra[rng.pick(keys)];
      break;
    }
  }
  next.modified_at = now;
  return next;
}

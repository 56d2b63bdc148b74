/**
 * Which files an entry references: its front matter `attachments:` (the
 * plugin's BinaryRef paths, already workspace-relative) and the local links
 * and images of its Markdown body (`![](/_attachments/a.png)`,
 * `[doc](files/report.pdf)`), resolved against the entry's folder, or the
 * workspace root for a leading `/`. Links to other entries (`.md`), to URLs
 * and to anchors are not attachments; a link that leaves the workspace is
 * ignored.
 */

/** `[text](target "title")` and `![alt](<target with spaces>)`. */
const LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>\n]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
/** Reference definitions: `[id]: target`. */
const DEFINITION = /^ {0,3}\[[^\]]+\]:\s*(<[^>\n]*>|\S+)/gm;
const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/** The workspace-relative path `target` names from the entry `entryKey`, or null when it leaves the workspace. */
export function resolveLink(entryKey: string, target: string): string | null {
  let t = target.trim();
  if (t.startsWith('<') && t.endsWith('>')) t = t.slice(1, -1);
  t = t.replace(/[?#].*$/, '');
  if (t === '' || SCHEME.test(t) || t.startsWith('//')) return null;
  try {
    t = decodeURIComponent(t);
  } catch {
    // keep the raw text: a literal `%` in a file name
  }
  const base = t.startsWith('/') ? [] : entryKey.split('/').slice(0, -1);
  const parts = [...base];
  for (const part of t.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  if (parts.length === 0 || parts.some((p) => p.includes('\\') || p.includes('\0'))) return null;
  return parts.join('/');
}

/** The files the body of `entryKey` links to (not Markdown entries). */
export function bodyReferences(entryKey: string, body: string): string[] {
  const out = new Set<string>();
  const add = (target: string) => {
    const p = resolveLink(entryKey, target);
    if (p !== null && !p.toLowerCase().endsWith('.md') && !p.split('/').some((s) => s.startsWith('.'))) out.add(p);
  };
  for (const m of body.matchAll(LINK)) add(m[1]);
  for (const m of body.matchAll(DEFINITION)) add(m[1]);
  return [...out].sort();
}

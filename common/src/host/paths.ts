/**
 * The path rules of the host functions, the same in every host: `\` is
 * treated as `/`; leading `./` and `/` are stripped; empty and `.` components
 * are dropped; any `..` component (or a NUL) is refused. The Node host also
 * refuses a path whose real location (after symlinks) is outside the folder
 * (host-harness/src/workspace-fs.ts).
 */

/** A path the workspace refuses: traversal, an absolute escape or a symlink out of the folder. */
export class PathRefusedError extends Error {
  override name = 'PathRefusedError';
  constructor(readonly requested: string) {
    super(`Path traversal not allowed: ${requested}`);
  }
}

/**
 * Normalises a host-function path to workspace-relative form (`a/b.md`; `''`
 * is the folder itself). Throws PathRefusedError for any `..` component.
 */
export function normalizeWorkspacePath(input: string): string {
  const parts: string[] = [];
  for (const part of input.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' || part.includes('\0')) throw new PathRefusedError(input);
    parts.push(part);
  }
  return parts.join('/');
}

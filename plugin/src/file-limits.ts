/**
 * The largest file the plugin syncs. The sync server closes a connection that
 * sends a frame over its `--max-message-bytes` (16 MiB by default); a file
 * whose body went out in one update would make the device reconnect forever
 * and every other change wait behind it. So a local file over
 * MAX_SYNCED_FILE_BYTES (8 MiB of UTF-8: half the server's default, which
 * leaves room for the body doc's own overhead and a whole-state send after a
 * rename) is not read into the CRDT: its change is skipped, the host gets a
 * `FileSkipped` event naming the file and the limit, and everything else keeps
 * syncing. A file that was synced while smaller keeps its last synced version
 * on the other devices; deleting or moving it syncs as usual.
 */

/** Largest Markdown file (UTF-8 bytes, front matter included) that syncs. */
export const MAX_SYNCED_FILE_BYTES = 8 * 1024 * 1024;

/** A local file over MAX_SYNCED_FILE_BYTES. */
export class FileTooLargeError extends Error {
  override name = 'FileTooLargeError';
  constructor(
    readonly path: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    // Just over the limit, rounded sizes would read the same: the exact count then.
    const size = formatBytes(bytes) === formatBytes(limit) ? `${bytes} bytes` : formatBytes(bytes);
    super(`${path} is ${size}, over the ${formatBytes(limit)} limit for one file: not synced (the rest keeps syncing)`);
  }
}

/** `8 MiB`, `20.5 MiB`, `900 KiB`, `12 bytes`. */
export function formatBytes(n: number): string {
  const unit = (v: number, name: string) => `${Number.isInteger(v) ? v : v.toFixed(1)} ${name}`;
  if (n >= 1024 * 1024) return unit(Math.round((n / (1024 * 1024)) * 10) / 10, 'MiB');
  if (n >= 1024) return unit(Math.round((n / 1024) * 10) / 10, 'KiB');
  return `${n} bytes`;
}

/** UTF-8 length of `text`, computed only when the UTF-16 length leaves it in doubt. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The size of `text` when it is over `limit`, else null. Cheap away from the
 * limit: a text with more UTF-16 units than the limit is over it for sure and
 * is reported by that count (its UTF-8 size is at least that).
 */
export function oversize(text: string, limit = MAX_SYNCED_FILE_BYTES): number | null {
  if (text.length * 3 <= limit) return null;
  if (text.length > limit) return text.length;
  const bytes = utf8Length(text);
  return bytes > limit ? bytes : null;
}

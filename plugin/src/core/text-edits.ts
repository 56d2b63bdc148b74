/**
 * Text edits on a body: the single replacement that turns one text into
 * another (what `BodyDocManager.setBody` applies to the Y.Text), and the text
 * of a Y.Text read in one join.
 *
 * Offsets are UTF-16 code units, as yjs counts them; a surrogate pair is never
 * cut.
 */
import * as Y from 'yjs';

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * The single replacement turning `current` into `next`: delete `deleteCount`
 * code units at `index`, then insert `insert` there. Never cuts a surrogate pair.
 */
export function minimalEdit(current: string, next: string): { index: number; deleteCount: number; insert: string } {
  const max = Math.min(current.length, next.length);
  let prefix = commonPrefix(current, next, max);
  if (prefix > 0 && isHighSurrogate(current.charCodeAt(prefix - 1))) prefix--;
  const limit = Math.min(current.length, next.length) - prefix;
  let suffix = commonSuffix(current, next, limit);
  if (suffix > 0 && isLowSurrogate(current.charCodeAt(current.length - suffix))) suffix--;
  return {
    index: prefix,
    deleteCount: current.length - suffix - prefix,
    insert: next.slice(prefix, next.length - suffix),
  };
}

/**
 * Blocks compared as substrings (native code) before the code units one by
 * one: under the plugin's interpreter a per-character loop over a long body
 * costs more than the edit itself.
 */
const BLOCK = 64;

/** Length of the common prefix of `a` and `b`, at most `max`. */
function commonPrefix(a: string, b: string, max: number): number {
  let i = 0;
  while (i + BLOCK <= max && a.slice(i, i + BLOCK) === b.slice(i, i + BLOCK)) i += BLOCK;
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Length of the common suffix of `a` and `b`, at most `max`. */
function commonSuffix(a: string, b: string, max: number): number {
  let n = 0;
  while (n + BLOCK <= max && a.slice(a.length - n - BLOCK, a.length - n) === b.slice(b.length - n - BLOCK, b.length - n)) n += BLOCK;
  while (n < max && a.charCodeAt(a.length - 1 - n) === b.charCodeAt(b.length - 1 - n)) n++;
  return n;
}

/**
 * The text of a Y.Text as one flat string: Y.Text#toString appends item by
 * item, which under the plugin's interpreter builds the string as a rope of
 * many pieces that later uses (the event JSON, the echo check, the envelope)
 * pay for again; one join is cheaper (bench: remote updates on a
 * 19,000-character body 1.70 -> 1.39 ms).
 */
export function textOf(ytext: Y.Text): string {
  const pieces: string[] = [];
  for (let item = ytext._start; item !== null; item = item.right) {
    if (!item.deleted && item.countable && item.content instanceof Y.ContentString) pieces.push(item.content.str);
  }
  return pieces.join('');
}

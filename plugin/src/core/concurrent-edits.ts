/**
 * Concurrent edits of the same spot of a text, found in a remote update
 * before it is applied.
 *
 * A Yjs insert names its neighbours as the author saw them: `origin` (the
 * character to its left) and `rightOrigin` (the one to its right). A device
 * that had seen this doc's item L next to the same left neighbour and typed
 * right there has L as its right neighbour; a remote insert whose left
 * neighbour is L's and whose right neighbour is not L was therefore typed
 * without L: both devices wrote at the same place at the same time (say, the
 * same line). The CRDT keeps both texts, one after the other; this module
 * only names the clients involved so that the plugin can tell the user.
 * Edits of different places of one file are not reported: they merge as the
 * users expect.
 */
import * as Y from 'yjs';

/** Items right of a left neighbour looked at for siblings (a sibling run is short in practice). */
const MAX_SIBLINGS_SCANNED = 256;

export interface ConcurrentInsert {
  /** Clients of the remote inserts typed at a place this doc had other text inserted. */
  remote: number[];
  /** Clients of that text here. */
  local: number[];
}

function sameId(a: Y.ID | null, b: Y.ID | null): boolean {
  return a === null || b === null ? a === b : a.client === b.client && a.clock === b.clock;
}

/** Items of `text` inserted right of `origin` (null: the start), as they sit in this doc. */
function siblingsAt(doc: Y.Doc, text: Y.Text, origin: Y.ID | null): Y.Item[] {
  let cursor: Y.Item | null;
  if (origin === null) cursor = text._start;
  else {
    if (origin.clock >= Y.getState(doc.store, origin.client)) return [];
    const left = Y.getItem(doc.store, origin);
    // Text inserted after a character splits the item there: an origin inside an item has nothing after it.
    if (!(left instanceof Y.Item) || left.id.clock + left.length - 1 !== origin.clock) return [];
    cursor = left.right;
  }
  const out: Y.Item[] = [];
  for (let n = 0; cursor !== null && n < MAX_SIBLINGS_SCANNED; n++, cursor = cursor.right) {
    // The right part of a split item names its left part as origin: the same text, not a sibling.
    const continuation = origin !== null && cursor.id.client === origin.client && cursor.id.clock === origin.clock + 1;
    if (sameId(cursor.origin, origin) && !continuation) out.push(cursor);
  }
  return out;
}

/**
 * The clients of `update`'s inserts into the root text `textName` that were
 * typed at the same place as text this doc already has, without knowing it;
 * null when there are none (or the update does not decode).
 */
export function findConcurrentInserts(doc: Y.Doc, textName: string, update: Uint8Array): ConcurrentInsert | null {
  let structs: (Y.Item | Y.GC | Y.Skip)[];
  try {
    structs = Y.decodeUpdate(update).structs;
  } catch {
    return null;
  }
  const text = doc.getText(textName);
  const remote = new Set<number>();
  const local = new Set<number>();
  const seen = new Set<string>();
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue;
    // Already here (a duplicate delivery): not a new insert.
    if (s.id.clock < Y.getState(doc.store, s.id.client)) continue;
    // Only inserts into the root text (no parent sub-type, or the text by name).
    // (A decoded update names a root type by its name, a nested one by an ID.)
    const parent = s.parent as unknown;
    if ((parent !== null && parent !== textName) || s.parentSub !== null) continue;
    const key = s.origin === null ? 'start' : `${s.origin.client}:${s.origin.clock}`;
    for (const l of seen.has(key) ? [] : siblingsAt(doc, text, s.origin)) {
      if (l.id.client === s.id.client || sameId(s.rightOrigin, l.id)) continue;
      remote.add(s.id.client);
      local.add(l.id.client);
    }
    seen.add(key);
  }
  return remote.size === 0 ? null : { remote: [...remote], local: [...local] };
}

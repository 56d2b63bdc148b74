/**
 * Encrypted docs by name (`workspace`, or `body/<key>` with the key of
 * `body:<ws>/<key>`), the names their tags are derived from, and the reads a
 * session makes of each through SessionDocs.
 */
import { bodyDocName, WORKSPACE_DOC_NAME } from '../../../common/src/e2ee/keys';
import { parseDocId } from '../../../common/src/wire/frame';
import { beyond, EMPTY_SV } from './state-vectors';
import type { SessionDocs } from '../sync/session-host';

export { WORKSPACE_DOC_NAME };
const BODY_PREFIX = 'body/';

export function nameOfBody(key: string): string {
  return bodyDocName(key);
}

/** The body key of a doc name, or null for the workspace doc. */
export function bodyKeyOf(name: string): string | null {
  return name.startsWith(BODY_PREFIX) ? name.slice(BODY_PREFIX.length) : null;
}

/** The doc name of a plain doc id of `workspaceId`, or null (another workspace, not a doc id). */
export function nameOfDocId(docId: string, workspaceId: string): string | null {
  const parsed = parseDocId(docId);
  if (parsed === null || parsed.workspaceId !== workspaceId) return null;
  if (parsed.kind === 'workspace') return WORKSPACE_DOC_NAME;
  return parsed.key === '' ? null : nameOfBody(parsed.key);
}

export function stateVectorOf(docs: SessionDocs, name: string): Uint8Array {
  const key = bodyKeyOf(name);
  return key === null ? docs.workspaceStateVector() : docs.bodyStateVector(key);
}

/** `Y.encodeStateAsUpdate(doc, sv)` of a doc. */
export function diffOf(docs: SessionDocs, name: string, sv: Uint8Array): Uint8Array {
  const key = bodyKeyOf(name);
  return key === null ? docs.encodeWorkspaceDiff(sv) : docs.encodeBodyDiff(key, sv);
}

/**
 * True when the doc lacks structs `serverSV` says it pulled: it was made
 * again here (a body dropped by a move, its path back), so its cursor is
 * past text it no longer holds. While structs wait for missing earlier ones
 * the state vector says too little, so the answer is false then.
 */
export function docLacks(docs: SessionDocs, name: string, serverSV: Uint8Array): boolean {
  if (hasPendingStructs(docs, name)) return false;
  return beyond(serverSV, stateVectorOf(docs, name));
}

/**
 * True when a body holds nothing at all (no doc, or no structs and none
 * waiting): one dropped here (its file deleted while the plugin was down)
 * and made again, whose cursor, if past anything, is past what it lacks.
 */
export function docEmpty(docs: SessionDocs, name: string): boolean {
  const key = bodyKeyOf(name);
  if (key === null) return false;
  return !docs.hasBody(key) || (!hasPendingStructs(docs, name) && !beyond(stateVectorOf(docs, name), EMPTY_SV));
}

/** True when the doc holds structs waiting for earlier ones it lacks. */
export function hasPendingStructs(docs: SessionDocs, name: string): boolean {
  const key = bodyKeyOf(name);
  return key === null ? docs.workspaceHasPendingStructs() : docs.hasBody(key) && docs.bodyHasPendingStructs(key);
}

/** A body whose file is not active here: its envelopes wait (cursor unmoved); it is pulled again when the file comes back. */
export function inactiveBody(docs: SessionDocs, name: string): boolean {
  const key = bodyKeyOf(name);
  return key !== null && !docs.isActiveFile(key);
}

/** The names of the docs whose local updates wait in the queue (not handed to the session yet). */
export function queuedDocNames(docs: SessionDocs, workspaceId: string): string[] {
  return docs.queuedLocalDocIds().flatMap((id) => nameOfDocId(id, workspaceId) ?? []);
}

/** The file keys of paths a host names (a key as is, else resolved; unknown paths left out). */
export function fileKeysOf(docs: SessionDocs, paths: readonly string[]): string[] {
  const keys: string[] = [];
  for (const p of paths) {
    const key = !p.includes('/') && !p.includes('.') ? p : docs.resolveFileKey(p);
    if (key !== null) keys.push(key);
  }
  return keys;
}

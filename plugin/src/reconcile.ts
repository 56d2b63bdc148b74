/**
 * The reconcile policy: what happens to a file's text when this device's copy
 * and the server's may differ. Pure decisions, carried out by
 * PluginSessionDocs (session-docs.ts), which holds the state they read:
 *
 * - a body read from a local file goes into its doc now, or waits for the
 *   server's first answer (planLocalBody);
 * - a file written at the path of a deleted entry replaces the deleted
 *   file's text once the server's is in (reusedPathEdit,
 *   afterDeletedTextRemoved);
 * - a body that waited is seeded from the file, or kept beside the server's
 *   text as a conflict copy (deferredSeedOutcome).
 *
 * Arguments that cost a host call (loading a stored doc) are functions, read
 * only when the decision needs them.
 */

/** What to do with a body read from a local file. */
export type LocalBodyPlan =
  /** The path of a deleted entry in a linked workspace: waits for the server, then replaces the deleted file's text. */
  | 'replace-deleted'
  /** A linked workspace, no session and an empty doc: seeded once the server has answered (no second copy of its text). */
  | 'wait-for-server'
  /** Into the doc now. */
  | 'apply-now';

export interface LocalBodySituation {
  /** The workspace has a remote id. */
  linked: boolean;
  /** The workspace doc holds a deleted entry at this path. */
  entryDeleted: boolean;
  /** The session is active. */
  online: () => boolean;
  /** The body doc is missing or empty. */
  docEmpty: () => boolean;
}

export function planLocalBody(s: LocalBodySituation): LocalBodyPlan {
  if (s.linked && s.entryDeleted) return 'replace-deleted';
  if (s.linked && !s.online() && s.docEmpty()) return 'wait-for-server';
  return 'apply-now';
}

/**
 * While a file at a reused path waits: the deleted file's doc still here is
 * replaced whole (no character of the old text may carry the new one);
 * another doc moved onto the path takes the text as a minimal edit; an empty
 * one waits as it is.
 */
export function reusedPathEdit(s: { oldDocHere: boolean; docEmpty: () => boolean }): 'replace-whole' | 'minimal-edit' | 'none' {
  if (s.oldDocHere) return 'replace-whole';
  return s.docEmpty() ? 'none' : 'minimal-edit';
}

/**
 * The server has answered for a body that waited: a file only this device
 * had seeds the doc; a file whose text differs from the server's is kept
 * beside it as a conflict copy (the server's text stays).
 */
export function deferredSeedOutcome(diskBody: string | null, serverBody: () => string): 'seed' | 'conflict-copy' | 'none' {
  if (diskBody === null || diskBody === '') return 'none';
  const server = serverBody();
  if (server === '') return 'seed';
  return server !== diskBody ? 'conflict-copy' : 'none';
}

/**
 * After the deleted file's text was taken out of a reused path's doc:
 * nothing else there (`foreign` blank) and the file's text becomes the
 * body; text another device wrote at the path stays, and this device's
 * differing text is kept beside it as a conflict copy.
 */
export function afterDeletedTextRemoved(diskBody: string, foreign: string, current: string): 'set' | 'conflict-copy' | 'none' {
  if (foreign.trim() === '') return diskBody !== current ? 'set' : 'none';
  return diskBody !== '' && !current.includes(diskBody) ? 'conflict-copy' : 'none';
}

/**
 * Transaction origins for the workspace and body Y.Docs.
 *
 * The values are the strings the Diaryx sync crate's `UpdateOrigin` displays
 * (`local`, `remote`, `sync`), so they can be stored in the history log and
 * returned by history commands as they are. Any transaction whose origin is
 * not `remote` or `sync` counts as local: its update is sent to the server.
 */

export const ORIGIN_LOCAL = 'local' as const;
export const ORIGIN_REMOTE = 'remote' as const;
export const ORIGIN_SYNC = 'sync' as const;

export type UpdateOrigin = typeof ORIGIN_LOCAL | typeof ORIGIN_REMOTE | typeof ORIGIN_SYNC;

/** The origin of a Yjs transaction as one of the three values. */
export function originOf(transactionOrigin: unknown): UpdateOrigin {
  return transactionOrigin === ORIGIN_REMOTE || transactionOrigin === ORIGIN_SYNC ? transactionOrigin : ORIGIN_LOCAL;
}

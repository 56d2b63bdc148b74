/**
 * The names inside the Yjs documents, shared by every device and the server
 * (the Rust plugin uses the same ones):
 *
 * - the workspace doc: the Y.Map `files` (workspace-relative key -> JSON of
 *   FileMetadata, `metadata.ts`; entries are never removed, `deleted: true`
 *   is a tombstone) and the Y.Map `devices` (which device edits with which Yjs client ids; the plugin's `devices.ts`);
 * - a body doc: the Y.Text `body` (the Markdown after the front matter) and
 *   the Y.Map `frontmatter`.
 */

/** The workspace doc's file table. */
export const FILES_MAP_NAME = 'files';
/** The workspace doc's device registry. */
export const DEVICES_MAP_NAME = 'devices';
/** A body doc's text. */
export const BODY_TEXT_NAME = 'body';
/** A body doc's front matter map. */
export const FRONTMATTER_MAP_NAME = 'frontmatter';

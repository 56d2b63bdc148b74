/**
 * Schema step for end-to-end encrypted workspaces (server/README.md): the
 * doc's snapshot id, its change number and hint time, and the workspace's
 * change head. `workspaces.e2ee` (the key record) and `updates.client_key`
 * exist from the first schema.
 */
export const E2EE_MIGRATION = `
ALTER TABLE docs ADD COLUMN snap_id bytea, ADD COLUMN change_no bigint NOT NULL DEFAULT 0, ADD COLUMN hinted_at bigint;
ALTER TABLE workspaces ADD COLUMN change_head bigint NOT NULL DEFAULT 0;
CREATE INDEX docs_by_change ON docs (workspace_id, change_no) WHERE change_no > 0;
`;

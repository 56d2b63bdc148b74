/**
 * The Postgres schema (documents, users, tokens, workspaces in one database, so
 * one backup covers all, attachment metadata included) and its migration. A starting node migrates under a
 * session advisory lock, so nodes starting together do not race.
 */
import type pg from 'pg';
import { E2EE_MIGRATION } from './postgres-e2ee-schema';

/** How to reach the database. */
export interface PgConnectionOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** Pool size per process (default 10). */
  poolSize?: number;
}

/** Per-session limits: a frozen node frees its row locks fast. */
export function pgClientConfig(c: PgConnectionOptions): pg.ClientConfig {
  return {
    connectionString: c.url,
    statement_timeout: 5_000,
    idle_in_transaction_session_timeout: 10_000,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
    application_name: 'diaryx-sync',
  };
}

const MIGRATION_LOCK = 0x44585330;

/** Each entry moves the schema one version up. */
const MIGRATIONS: string[] = [
  `
CREATE TABLE docs (
  doc_id text PRIMARY KEY,
  workspace_id text NOT NULL,
  head bigint NOT NULL DEFAULT 0,
  snap_seq bigint NOT NULL DEFAULT 0,
  snapshot bytea,
  snapshot_sv bytea,
  log_count int NOT NULL DEFAULT 0,
  log_bytes bigint NOT NULL DEFAULT 0,
  compacted_at timestamptz
);
CREATE TABLE updates (
  doc_id text NOT NULL,
  seq bigint NOT NULL,
  data bytea NOT NULL,
  client_key bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (doc_id, seq)
);
CREATE UNIQUE INDEX updates_client_key ON updates (doc_id, client_key) WHERE client_key IS NOT NULL;
CREATE TABLE users (
  name text PRIMARY KEY,
  created_at bigint NOT NULL
);
CREATE TABLE tokens (
  hash text PRIMARY KEY,
  user_name text NOT NULL REFERENCES users (name),
  created_at bigint NOT NULL
);
CREATE INDEX tokens_by_user ON tokens (user_name);
CREATE TABLE workspaces (
  id text PRIMARY KEY,
  owner text NOT NULL REFERENCES users (name),
  name text NOT NULL,
  folded text NOT NULL,
  created_at bigint NOT NULL,
  e2ee jsonb
);
CREATE INDEX workspaces_by_owner ON workspaces (owner, name);
CREATE INDEX workspaces_by_folded ON workspaces (folded);
`,
  // Attachment metadata (the blob bytes are files under each node's data folder).
  // COLLATE "C": listings sort by code unit, like the SQLite adapter.
  `
CREATE TABLE attachment_blobs (
  workspace_id text COLLATE "C" NOT NULL,
  hash text COLLATE "C" NOT NULL,
  size bigint NOT NULL,
  mime_type text NOT NULL,
  path text NOT NULL,
  created_at bigint NOT NULL,
  unreferenced_since bigint,
  PRIMARY KEY (workspace_id, hash)
);
CREATE TABLE attachment_uploads (
  upload_id text COLLATE "C" PRIMARY KEY,
  workspace_id text NOT NULL,
  hash text NOT NULL,
  size bigint NOT NULL,
  mime_type text NOT NULL,
  part_size bigint NOT NULL,
  total_parts int NOT NULL,
  attachment_path text NOT NULL,
  entry_path text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX attachment_uploads_by_age ON attachment_uploads (created_at, upload_id);
`,
  // A blob is held under each path it was uploaded as (equal bytes under two paths are two records).
  `
ALTER TABLE attachment_blobs ALTER COLUMN path TYPE text COLLATE "C";
ALTER TABLE attachment_blobs DROP CONSTRAINT attachment_blobs_pkey;
ALTER TABLE attachment_blobs ADD PRIMARY KEY (workspace_id, hash, path);
`,
  // End-to-end encrypted workspaces (postgres-e2ee.ts).
  E2EE_MIGRATION,
];

/** Brings the schema to the newest version. */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await c.query('CREATE TABLE IF NOT EXISTS schema_version (version int NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version');
      let version = r.rows[0].v ?? 0;
      if (version > MIGRATIONS.length) throw new Error(`the database schema is version ${version}, newer than this server knows (${MIGRATIONS.length}); upgrade the server`);
      while (version < MIGRATIONS.length) {
        await c.query('BEGIN');
        try {
          await c.query(MIGRATIONS[version]);
          version++;
          await c.query('INSERT INTO schema_version (version) VALUES ($1)', [version]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK');
          throw e;
        }
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    c.release();
  }
}

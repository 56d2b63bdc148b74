/**
 * Opens the server's single SQLite database (`<dataDir>/diaryx-sync.db`), shared
 * by document storage and auth. WAL journal so a CLI `token create` can write
 * while the server runs; `synchronous = FULL` so a committed update survives a
 * crash of the process or the machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** File name of the database inside the data directory. */
export const DATABASE_FILE = 'diaryx-sync.db';
/** The data dir value that keeps everything in memory (tests). */
export const IN_MEMORY = ':memory:';
/** How long a writer waits for another process's lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;

export type SqliteDatabase = Database.Database;

/** Path of the database for a data directory (`:memory:` stays as is). */
export function databasePath(dataDir: string): string {
  return dataDir === IN_MEMORY ? IN_MEMORY : path.join(dataDir, DATABASE_FILE);
}

/** Opens (creating the directory and file if needed) the database of `dataDir`. */
export function openDatabase(dataDir: string): SqliteDatabase {
  if (dataDir !== IN_MEMORY) fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(databasePath(dataDir));
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (dataDir !== IN_MEMORY) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}

/**
 * What a sync server kept, as scan sources: every file under its data folder
 * byte for byte (the SQLite database with its -wal and -shm, attachment
 * blobs, uploads in progress), zips and gzip streams among them opened, and
 * every row of every SQLite table read through SQLite (a value longer than a
 * page is split across overflow pages in the file, each starting with a
 * pointer, so the raw file alone could hide a secret cut at a page edge).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ScanSource } from './leak-scanner';
import { openContainer } from './wire-capture';

/** Every file under `dir` (recursively), named `<label>/<relative path>`, plus what the zips and gzip files among them hold. */
export function folderSources(dir: string, label: string): ScanSource[] {
  const out: ScanSource[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) {
        let bytes: Buffer;
        try {
          bytes = fs.readFileSync(path.join(dir, child));
        } catch (e) {
          // A file the running server removed between the listing and the read (a finished upload part).
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw e;
        }
        const name = `${label}/${child}`;
        out.push({ name, bytes }, ...openContainer(bytes, name));
      }
    }
  };
  walk('');
  return out;
}

/**
 * Every row of every table of the SQLite database `dbFile`, one source per
 * row (`<label> <table> row <n>`, its cells joined by a zero byte). Reads a
 * copy (with its -wal), so it works while the server runs and leaves the
 * server's files as they were.
 */
export function sqliteRowSources(dbFile: string, label: string): ScanSource[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-capture-db-'));
  try {
    const copy = path.join(tmp, 'copy.db');
    fs.copyFileSync(dbFile, copy);
    if (fs.existsSync(`${dbFile}-wal`)) fs.copyFileSync(`${dbFile}-wal`, `${copy}-wal`);
    const db = new Database(copy);
    try {
      const out: ScanSource[] = [];
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      if (tables.length === 0) throw new Error(`${dbFile}: no tables (not the server's database?)`);
      for (const { name } of tables) {
        const rows = db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).raw().all() as unknown[][];
        rows.forEach((row, i) => {
          const cells = row.map(cellBytes);
          const bytes = Buffer.concat(cells.flatMap((c) => [c, Buffer.alloc(1)]));
          const where = `${label} ${name} row ${i}`;
          out.push({ name: where, bytes }, ...cells.flatMap((c) => openContainer(c, where)));
        });
      }
      return out;
    } finally {
      db.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function cellBytes(value: unknown): Buffer {
  if (value === null || value === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  return Buffer.from(String(value), 'utf8');
}

/** A process's captured output as sources. */
export function outputSources(label: string, output: { stdout: readonly string[]; stderr: readonly string[] }): ScanSource[] {
  return [
    { name: `${label} stdout`, bytes: Buffer.from(output.stdout.join(''), 'utf8') },
    { name: `${label} stderr`, bytes: Buffer.from(output.stderr.join(''), 'utf8') },
  ];
}

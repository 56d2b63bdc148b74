import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { scan, stringNeedles } from './leak-scanner';
import { folderSources, sqliteRowSources } from './server-capture';

const SECRET = 'SecretRowQ7mZp2Lx9';
const needles = stringNeedles('s', SECRET).filter((n) => n.encoding === 'utf8');
const dirs: string[] = [];
const temp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-capture-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('server capture', () => {
  it('reads every row whole: a value cut across overflow pages in the file is found through SQLite', () => {
    const dir = temp();
    const file = path.join(dir, 'db.sqlite');
    const db = new Database(file);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)');
    const copies = 5000;
    db.prepare('INSERT INTO t (v) VALUES (?)').run(Buffer.from(SECRET.repeat(copies)));
    db.close();
    const inFile = scan(folderSources(dir, 'data'), needles).length;
    const inRows = scan(sqliteRowSources(file, 'rows'), needles);
    // Each overflow page starts with a 4-byte pointer: the copies it cuts are not in the file as bytes.
    expect(inFile).toBeLessThan(copies);
    expect(inRows).toHaveLength(copies);
    expect(inRows[0].source).toBe('rows t row 0');
  });

  it('reads rows still in the -wal of a database in use, and leaves its files as they were', () => {
    const dir = temp();
    const file = path.join(dir, 'db.sqlite');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (v TEXT)');
    db.prepare('INSERT INTO t (v) VALUES (?)').run(`a ${SECRET}`);
    const before = fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))] as const);
    expect(scan(sqliteRowSources(file, 'rows'), needles).map((h) => h.source)).toEqual(['rows t row 0']);
    expect(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))] as const)).toEqual(before);
    db.close();
  });

  it('reads every file below a folder, and what a gzip file holds', () => {
    const dir = temp();
    fs.mkdirSync(path.join(dir, 'attachments/blobs/ab'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'attachments/blobs/ab/abcd'), `blob ${SECRET}`);
    fs.writeFileSync(path.join(dir, 'backup.gz'), zlib.gzipSync(`backup ${SECRET}`));
    const hits = scan(folderSources(dir, 'data'), needles).map((h) => h.source).sort();
    expect(hits).toEqual(['data/attachments/blobs/ab/abcd', 'data/backup.gz gunzipped']);
  });
});

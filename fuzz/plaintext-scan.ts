/**
 * The encrypted runs' extra check: nothing the devices wrote reaches the
 * server in the clear. Searched: every row of every table of the server's
 * database, its files on disk (database, WAL), its log (every level), and
 * every frame the server sent or received. Looked for:
 *
 * - any token-shaped string (`⟦` + 10 base32 characters + `⟧`, the markers
 *   every typed fragment carries), as UTF-8 and as UTF-16LE: tokens are
 *   unique and never occur by chance, so any one is a leak;
 * - the run's canary (in every file name and title) in every encoding the
 *   leak scanner knows (UTF-8, UTF-16LE, lower case, hex, base64 at each
 *   alignment);
 * - each path and each longer body line the devices wrote, as UTF-8 and
 *   UTF-16LE (short strings are left out: a few bytes turn up in ciphertext
 *   by chance).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SqliteDatabase } from '../server/src/db';
import { buildNeedles, scan, type Needle, type ScanSource } from '../test/helpers/leak-scanner';

export type { ScanSource };

/** Plain strings shorter than this are not searched (chance matches in ciphertext). */
export const MIN_PLAIN_BYTES = 8;

export interface PlaintextNeedles {
  canary: string | null;
  /** Paths, titles, body lines: searched as UTF-8 and UTF-16LE when long enough. */
  strings: Iterable<string>;
}

const TOKEN_UTF8 = /\xe2\x9f\xa6[a-z2-7]{10}\xe2\x9f\xa7/g;
const TOKEN_UTF16 = /\xe6\x27(?:[a-z2-7]\x00){10}\xe7\x27/g;

/** One line per hit: what was found, in which encoding, where. */
export function findPlaintext(sources: readonly ScanSource[], needles: PlaintextNeedles): string[] {
  const hits: string[] = [];
  for (const source of sources) {
    const text = Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength).toString('latin1');
    for (const [re, encoding] of [[TOKEN_UTF8, 'utf-8'], [TOKEN_UTF16, 'utf-16le']] as const) {
      for (const m of text.matchAll(re)) {
        const token = encoding === 'utf-8' ? Buffer.from(m[0], 'latin1').toString('utf8') : Buffer.from(m[0], 'latin1').toString('utf16le');
        hits.push(`token ${token} (${encoding}) in ${source.name} at byte ${m.index}`);
      }
    }
  }
  const list: Needle[] = needles.canary ? buildNeedles({ strings: { [`canary ${needles.canary}`]: needles.canary } }) : [];
  for (const s of new Set(needles.strings)) {
    const utf8 = Buffer.from(s, 'utf8');
    if (utf8.length < MIN_PLAIN_BYTES) continue;
    list.push({ label: JSON.stringify(s), encoding: 'utf-8', bytes: utf8 }, { label: JSON.stringify(s), encoding: 'utf-16le', bytes: Buffer.from(s, 'utf16le') });
  }
  for (const h of scan(sources, list)) hits.push(`${h.label} (${h.encoding}) in ${h.source} at byte ${h.offset}`);
  return hits;
}

/** Every table of a SQLite database, its rows' values joined (one source per table). */
export function databaseSources(db: SqliteDatabase): ScanSource[] {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
  return tables.map(({ name }) => {
    const parts: Buffer[] = [];
    for (const row of db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).iterate() as Iterable<Record<string, unknown>>) {
      for (const value of Object.values(row)) {
        if (value instanceof Uint8Array) parts.push(Buffer.from(value));
        else if (typeof value === 'string') parts.push(Buffer.from(value, 'utf8'));
        else continue;
        // A separator, so no needle spans two values.
        parts.push(Buffer.from([0]));
      }
    }
    return { name: `table ${name}`, bytes: Buffer.concat(parts) };
  });
}

/** Every file under `dir`, as bytes (the database, its WAL and journal). */
export function directorySources(dir: string): ScanSource[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((entry) => {
    if (!entry.isFile()) return [];
    const file = path.join(entry.parentPath, entry.name);
    return [{ name: `file ${path.relative(dir, file)}`, bytes: fs.readFileSync(file) }];
  });
}

/** Captured frames joined into one source (a zero byte between frames). */
export function framesSource(name: string, frames: readonly (Uint8Array | string)[]): ScanSource {
  const parts: Buffer[] = [];
  for (const f of frames) parts.push(typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f), Buffer.from([0]));
  return { name, bytes: Buffer.concat(parts) };
}

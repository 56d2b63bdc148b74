/**
 * Benchmark workspaces: N Markdown entries in the plugin's file format
 * (a root index plus day entries with a few paragraphs each), seeded so every
 * run builds the same files.
 */
import fs from 'node:fs';
import path from 'node:path';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const WORDS = 'the a journal day morning walk coffee rain notes idea meeting friend book music garden light city evening quiet long short'.split(' ');

export function entryText(i: number, random: () => number): string {
  const paragraphs: string[] = [];
  const count = 1 + Math.floor(random() * 4);
  for (let p = 0; p < count; p++) {
    const words = Array.from({ length: 20 + Math.floor(random() * 60) }, () => WORDS[Math.floor(random() * WORDS.length)]);
    paragraphs.push(words.join(' ') + '.');
  }
  const day = String(1 + (i % 28)).padStart(2, '0');
  return `---\ntitle: Entry ${i}\npart_of: "[README](/README.md)"\nupdated: "2026-01-${day}T09:00:00.000+00:00"\n---\n\n${paragraphs.join('\n\n')}\n`;
}

/** Writes `n` entries (under `days/`) and a root index into `dir`. */
export function writeWorkspace(dir: string, n: number, seed = 42): void {
  const random = rng(seed);
  fs.mkdirSync(path.join(dir, 'days'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'README.md'), '---\ntitle: Bench\ncontents: []\nupdated: "2026-01-01T09:00:00.000+00:00"\n---\n\n# Bench\n');
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, 'days', `entry-${String(i).padStart(5, '0')}.md`), entryText(i, random));
}

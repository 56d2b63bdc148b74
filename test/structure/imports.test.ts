/**
 * Which package may import which: the plugin and the shared code never depend
 * on a host, the server, the simulations or the tests; the server and the
 * Node host never form a cycle (the host embeds the server, never the other
 * way round); the command-line code in common/src/cli stays out of the
 * plugin, and the rest of common/src (run by the plugin and the browser host)
 * uses no Node built-in module. Every relative import and `import()`/`export ... from` of every
 * TypeScript file is resolved and checked against the rules below.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';

/** Top-level areas, by path prefix (longest first). */
const AREAS: [string, string][] = [
  ['common/src/cli/', 'common-cli'],
  ['common/src/', 'common'],
  ['plugin/src/', 'plugin'],
  ['server/src/', 'server'],
  ['host-harness/', 'host-harness'],
  ['fuzz/', 'fuzz'],
  ['bench/', 'bench'],
  ['test/', 'test'],
];

/** area -> areas it must not import. */
const FORBIDDEN: Record<string, string[]> = {
  common: ['common-cli', 'plugin', 'server', 'host-harness', 'fuzz', 'bench', 'test'],
  'common-cli': ['plugin', 'server', 'host-harness', 'fuzz', 'bench', 'test'],
  plugin: ['common-cli', 'server', 'host-harness', 'fuzz', 'bench', 'test'],
  server: ['host-harness', 'fuzz', 'bench', 'test'],
  'host-harness': ['fuzz', 'bench', 'test'],
};

function areaOf(rel: string): string | null {
  for (const [prefix, area] of AREAS) if (rel.startsWith(prefix)) return area;
  return null;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/** Import specifiers of a source text (relative ones only, unless `all`). */
function importsOf(text: string, all = false): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined && (all || spec.startsWith('.'))) out.push(spec);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const p = path.join(abs, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Every import that breaks a rule: `from -> to (area -> area)`. */
function violations(): string[] {
  const out: string[] = [];
  for (const top of ['common', 'plugin', 'server', 'host-harness', 'fuzz', 'bench', 'test']) {
    for (const file of sourceFiles(path.join(ROOT, top))) {
      const from = path.relative(ROOT, file).split(path.sep).join('/');
      const fromArea = areaOf(from);
      if (fromArea === null) continue;
      for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
        const to = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
        const toArea = areaOf(to);
        if (toArea !== null && FORBIDDEN[fromArea]?.includes(toArea)) out.push(`${from} -> ${spec} (${fromArea} must not import ${toArea})`);
      }
    }
  }
  return out;
}

describe('package dependencies', () => {
  it('the import parser sees static, re-exported, side-effect and dynamic imports', () => {
    const text = [
      "import { a } from '../../server/src/a';",
      "import type { B } from './b';",
      "export { c } from '../c';",
      "import './side-effect';",
      "const m = await import('../../host-harness/src/m');",
      "import x from 'yjs';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['../../server/src/a', './b', '../c', './side-effect', '../../host-harness/src/m']);
  });

  it('no package imports one it must not (plugin and common: no host, server, fuzz or test; server: no host)', () => {
    expect(violations()).toEqual([]);
  });

  it('common/src outside cli/ uses no Node built-in (the plugin and the browser host run it)', () => {
    const out: string[] = [];
    for (const file of sourceFiles(path.join(ROOT, 'common', 'src'))) {
      const rel = path.relative(ROOT, file).split(path.sep).join('/');
      if (areaOf(rel) !== 'common' || rel.endsWith('.test.ts')) continue;
      for (const spec of importsOf(fs.readFileSync(file, 'utf8'), true)) {
        if (spec.startsWith('node:') || ['fs', 'path', 'os', 'crypto', 'child_process'].includes(spec)) out.push(`${rel} -> ${spec}`);
      }
    }
    expect(out).toEqual([]);
  });
});

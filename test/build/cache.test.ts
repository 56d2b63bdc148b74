/**
 * The build reuses its last output when no input changed (build/cache.mjs),
 * and builds again when one did: a source file, an option, or the output
 * missing. Real builds of a small entry (without Wizer and wasm-opt, to keep
 * them short).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-build-cache-'));
const outName = `cache-test-${process.pid}`;
const out = path.join(dir, `${outName}.wasm`);
const entry = path.join(dir, 'index.ts');
const helper = path.join(dir, 'words.ts');
const abi = path.join(dir, 'abi.d.ts');

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(path.join(ROOT, '.build', 'plugin', outName), { recursive: true, force: true });
});

interface Report {
  cached: boolean;
  size: number;
}

function build(...args: string[]): Report {
  const report = path.join(dir, 'report.json');
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'scripts', 'build.mjs'), '--quiet', '--no-wizer', '--no-opt', '--entry', entry, '--abi', abi, '--out', out, '--report', report, ...args],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return JSON.parse(fs.readFileSync(report, 'utf8')) as Report;
}

describe('build cache', () => {
  it('skips a build whose inputs are unchanged and rebuilds when one changes', () => {
    fs.writeFileSync(abi, "declare module 'extism:host' {\n  interface user {\n  }\n}\n");
    fs.writeFileSync(helper, "export const WORD = 'first';\n");
    fs.writeFileSync(entry, "import { WORD } from './words';\nexport function hello(): number {\n  Host.outputString(WORD);\n  return 0;\n}\n");

    expect(build().cached).toBe(false);
    const first = fs.readFileSync(out);
    expect(build().cached).toBe(true);
    expect(fs.readFileSync(out)).toEqual(first);

    // An imported module changed: built again, and the output differs.
    fs.writeFileSync(helper, "export const WORD = 'second';\n");
    expect(build().cached).toBe(false);
    const second = fs.readFileSync(out);
    expect(second).not.toEqual(first);
    expect(build().cached).toBe(true);

    // The output went missing: it comes back from the cache, unchanged.
    fs.rmSync(out);
    expect(build().cached).toBe(true);
    expect(fs.readFileSync(out)).toEqual(second);

    // Another option is another input; --force always builds.
    expect(build('--keep-debug').cached).toBe(false);
    expect(build('--keep-debug', '--force').cached).toBe(false);
    expect(build('--keep-debug').cached).toBe(true);
  });
});

// The build's output cache: a build whose inputs did not change reuses the
// output of the last build with those inputs instead of running the compiler,
// Wizer and wasm-opt again (wasm-opt alone takes most of a build).
//
// The inputs are hashed as they reach the compiler: the program text (the
// esbuild bundle of every TypeScript source and npm package, with the
// runtime prelude), the export and host function names, the engine objects
// (their cache names are hashes of the QuickJS and runtime sources and
// flags), the build options, the build scripts themselves and the versions of
// the tools that come from npm.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The build scripts: a change to how the build works is a change of input. */
function buildScripts() {
  const dir = path.join(ROOT, 'scripts', 'build');
  const files = [path.join(ROOT, 'scripts', 'build.mjs'), ...fs.readdirSync(dir).sort().map((f) => path.join(dir, f))];
  return files.map((f) => [path.relative(ROOT, f), sha256(fs.readFileSync(f))]);
}

function npmVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** A hash of everything the output depends on (`inputs`: what build.mjs knows, JSON-serialisable). */
export function buildKey(inputs) {
  const tools = { clang: process.env.DIARYX_CLANG ?? null, wizer: npmVersion('@bytecodealliance/wizer'), binaryen: npmVersion('binaryen') };
  return sha256(JSON.stringify({ inputs, tools, scripts: buildScripts() })).slice(0, 32);
}

/**
 * The output cache of one build target (a folder under .build/plugin): the
 * last output and a JSON record of it, named by the key of its inputs.
 */
export class OutputCache {
  constructor(dir) {
    this.dir = dir;
  }

  #files(key) {
    return { wasm: path.join(this.dir, `out-${key}.wasm`), record: path.join(this.dir, `out-${key}.json`) };
  }

  /** The cached output and its record for `key`, or null. */
  lookup(key) {
    const { wasm, record } = this.#files(key);
    if (!fs.existsSync(wasm) || !fs.existsSync(record)) return null;
    try {
      return { wasm, record: JSON.parse(fs.readFileSync(record, 'utf8')) };
    } catch {
      return null;
    }
  }

  /** Keeps `file` as the output for `key`; earlier outputs of this target are removed. */
  store(key, file, record) {
    const { wasm, record: recordFile } = this.#files(key);
    for (const name of fs.readdirSync(this.dir)) if (/^out-[0-9a-f]+\.(wasm|json)$/.test(name)) fs.rmSync(path.join(this.dir, name), { force: true });
    fs.copyFileSync(file, `${wasm}.tmp`);
    fs.renameSync(`${wasm}.tmp`, wasm);
    fs.writeFileSync(recordFile, JSON.stringify(record));
  }
}

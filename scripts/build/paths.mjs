// Locations shared by the build scripts. Everything under .build/ is a cache
// (git-ignored); dist/ holds the artefacts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = path.join(ROOT, '.build');
export const DIST = path.join(ROOT, 'dist');
export const RUNTIME_DIR = path.join(ROOT, 'plugin', 'runtime');
export const PLUGIN_SRC = path.join(ROOT, 'plugin', 'src');
export const BIN = path.join(ROOT, 'node_modules', '.bin');
export const WASM_OPT = path.join(ROOT, 'node_modules', 'binaryen', 'bin', 'wasm-opt');
export const WIZER = path.join(BIN, 'wizer');

/** Debian toolchain used for the C parts (installed by scripts/setup.sh). */
export const CLANG = process.env.DIARYX_CLANG ?? 'clang-16';
export const WASI_SYSROOT = process.env.DIARYX_WASI_SYSROOT ?? '/usr';

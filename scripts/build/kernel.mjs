// The Extism kernel module (plugin/runtime/kernel.c) for the Node host's
// `kernel` engine: clang for bare wasm32, no libc, cached by source hash.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CACHE, CLANG, DIST, RUNTIME_DIR } from './paths.mjs';

export const KERNEL_WASM = path.join(DIST, 'extism-kernel.wasm');

const FLAGS = ['--target=wasm32', '-O2', '-nostdlib', '-Wall', '-Werror', '-Wl,--no-entry', '-Wl,--export-memory', '-Wl,-z,stack-size=4096'];

/** Builds dist/extism-kernel.wasm when it is missing or its source changed; returns its path. */
export function buildKernel() {
  const src = path.join(RUNTIME_DIR, 'kernel.c');
  const key = createHash('sha256').update(JSON.stringify({ FLAGS, src: fs.readFileSync(src, 'utf8') })).digest('hex').slice(0, 16);
  const cached = path.join(CACHE, 'kernel', `extism-kernel-${key}.wasm`);
  if (!fs.existsSync(cached)) {
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    execFileSync(CLANG, [...FLAGS, '-o', `${cached}.tmp`, src], { stdio: ['ignore', 'inherit', 'inherit'] });
    fs.renameSync(`${cached}.tmp`, cached);
  }
  fs.mkdirSync(DIST, { recursive: true });
  if (!fs.existsSync(KERNEL_WASM) || !fs.readFileSync(KERNEL_WASM).equals(fs.readFileSync(cached))) fs.copyFileSync(cached, KERNEL_WASM);
  return KERNEL_WASM;
}

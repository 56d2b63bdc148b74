/**
 * Builds what the .wasm-level tests load, when it is missing or older than its
 * sources: the plugin (dist/diaryx_sync.wasm) and the runtime probe fixture.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PLUGIN_WASM, PROBE_NOWIZER_WASM, PROBE_WASM, ROOT } from './helpers/paths';

function newestMtime(dirs: string[]): number {
  let newest = 0;
  const walk = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const d of dirs) if (fs.existsSync(d)) walk(d);
  return newest;
}

function stale(out: string, sources: string[]): boolean {
  return !fs.existsSync(out) || fs.statSync(out).mtimeMs < newestMtime(sources);
}

function build(args: string[]) {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--quiet', ...args], { stdio: 'inherit', cwd: ROOT });
}

export default function setup(): void {
  const engine = [path.join(ROOT, 'plugin', 'runtime'), path.join(ROOT, 'scripts', 'build')];
  // The plugin build also writes dist/extism-kernel.wasm (the `kernel` engine's kernel module).
  const kernelMissing = !fs.existsSync(path.join(ROOT, 'dist', 'extism-kernel.wasm'));
  if (!process.env.DIARYX_SKIP_PLUGIN_BUILD && (kernelMissing || stale(PLUGIN_WASM, [path.join(ROOT, 'plugin', 'src'), path.join(ROOT, 'common', 'src'), ...engine]))) build([]);
  const probe = path.join(ROOT, 'test', 'fixtures', 'probe');
  const probeArgs = ['--entry', path.join(probe, 'index.ts'), '--abi', path.join(probe, 'abi.d.ts')];
  if (stale(PROBE_WASM, [probe, ...engine])) build([...probeArgs, '--out', PROBE_WASM]);
  if (stale(PROBE_NOWIZER_WASM, [probe, ...engine])) build([...probeArgs, '--no-wizer', '--no-opt', '--out', PROBE_NOWIZER_WASM]);
}

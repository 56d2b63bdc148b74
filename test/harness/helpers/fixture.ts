/**
 * Builds the harness probe plugin (test/harness/fixtures/host-probe) when it
 * is missing or older than its sources. Builds go to a per-process file that
 * is renamed into place, so parallel test files never see a partial module.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/paths';

export const HARNESS_PROBE_WASM = path.join(ROOT, '.build', 'test', 'harness-probe.wasm');
const FIXTURE = path.join(ROOT, 'test', 'harness', 'fixtures', 'host-probe');
const SOURCES = [
  FIXTURE,
  path.join(ROOT, 'plugin', 'src', 'host'),
  path.join(ROOT, 'common', 'src'),
  path.join(ROOT, 'plugin', 'runtime'),
  path.join(ROOT, 'scripts', 'build'),
];

function newest(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let n = 0;
  for (const e of fs.readdirSync(p)) n = Math.max(n, newest(path.join(p, e)));
  return n;
}

/** Path of an up-to-date harness probe module. */
export function buildHarnessProbe(): string {
  const sourceTime = Math.max(...SOURCES.filter((s) => fs.existsSync(s)).map(newest));
  if (fs.existsSync(HARNESS_PROBE_WASM) && fs.statSync(HARNESS_PROBE_WASM).mtimeMs >= sourceTime) return HARNESS_PROBE_WASM;
  fs.mkdirSync(path.dirname(HARNESS_PROBE_WASM), { recursive: true });
  const tmp = path.join(path.dirname(HARNESS_PROBE_WASM), `harness-probe-${process.pid}.wasm`);
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'scripts', 'build.mjs'), '--quiet', '--no-opt', '--entry', path.join(FIXTURE, 'index.ts'), '--abi', path.join(FIXTURE, 'abi.d.ts'), '--out', tmp],
    { stdio: 'inherit', cwd: ROOT },
  );
  fs.renameSync(tmp, HARNESS_PROBE_WASM);
  fs.rmSync(path.join(ROOT, '.build', 'plugin', path.basename(tmp, '.wasm')), { recursive: true, force: true });
  return HARNESS_PROBE_WASM;
}

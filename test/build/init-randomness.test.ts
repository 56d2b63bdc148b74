/**
 * Randomness drawn while the module initialises would be frozen into every
 * instance of a pre-initialised build: the runtime throws instead, so the
 * build fails and says why.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';

describe('randomness at module initialisation', () => {
  it('fails the pre-initialised build with the cause named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-init-random-'));
    try {
      const r = spawnSync(
        process.execPath,
        [
          path.join(ROOT, 'scripts', 'build.mjs'),
          '--entry', path.join(ROOT, 'test', 'fixtures', 'probe', 'init-randomness.ts'),
          '--abi', path.join(ROOT, 'test', 'fixtures', 'probe', 'abi.d.ts'),
          '--out', path.join(dir, 'init-randomness.wasm'),
          '--no-opt', '--force', '--quiet',
        ],
        { cwd: ROOT, encoding: 'utf8' },
      );
      expect(r.status).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toContain('plugin pre-initialisation failed: InternalError: crypto.getRandomValues called while the module initialises');
      expect(fs.existsSync(path.join(dir, 'init-randomness.wasm'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

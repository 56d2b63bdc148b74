import fs from 'node:fs';
import { defineConfig, type Plugin } from 'vitest/config';

/** Loads the plugin's UI assets as text, like esbuild's text loader in the build. */
function textAssets(): Plugin {
  const pattern = /\/plugin\/src\/ui\/[^/]+\.(html|css|txt)$/;
  return {
    name: 'text-assets',
    enforce: 'pre',
    load(id) {
      const file = id.split('?')[0];
      if (!pattern.test(file)) return null;
      return `export default ${JSON.stringify(fs.readFileSync(file, 'utf8'))};`;
    },
  };
}

const ALL_TESTS = [
  'test/**/*.test.ts',
  'common/src/**/*.test.ts',
  'plugin/src/**/*.test.ts',
  'server/src/**/*.test.ts',
  'host-harness/src/**/*.test.ts',
];

/**
 * Suites that run on every engine (host-harness/src/engines/engine.ts): the
 * runtime through the .wasm, conformance, bad input, persistence and restore,
 * aborted calls, two devices syncing through the real server (plain and
 * end-to-end encrypted), and the encryption commands' steps that run no KDF. Everything
 * runs on the default engine (or the one DIARYX_ENGINE names); these files run
 * again on each other engine, in a project named after it, so a failure names
 * its engine (`|kernel| test/plugin/...`).
 */
const EVERY_ENGINE = [
  'test/build/runtime.test.ts',
  'test/plugin/conformance.test.ts',
  'test/plugin/bad-input.test.ts',
  'test/plugin/bad-input-corpus.test.ts',
  'test/plugin/persistence.test.ts',
  'test/plugin/traps.test.ts',
  'test/e2e/devices.test.ts',
  'test/e2ee/self-test.test.ts',
  'test/e2ee/sync.test.ts',
  'test/e2ee/sync-check.test.ts',
  'test/e2ee/integrity.test.ts',
  'test/e2ee/encryption-commands.test.ts',
  'test/e2ee/attachments.test.ts',
];

/** host-harness/src/engines/engine.ts: ENGINES and DEFAULT_ENGINE (the config is loaded without TypeScript path resolution). */
const ENGINES = ['extism', 'extism-rc', 'kernel'];
const DEFAULT_ENGINE = 'kernel';
const mainEngine = process.env.DIARYX_ENGINE || DEFAULT_ENGINE;
if (!ENGINES.includes(mainEngine)) throw new Error(`DIARYX_ENGINE=${mainEngine}: expected one of ${ENGINES.join(', ')}`);

export default defineConfig({
  plugins: [textAssets()],
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    projects: [
      { extends: true, test: { name: mainEngine, include: ALL_TESTS, env: { DIARYX_ENGINE: mainEngine } } },
      ...ENGINES.filter((e) => e !== mainEngine).map((engine) => ({
        extends: true as const,
        test: { name: engine, include: EVERY_ENGINE, env: { DIARYX_ENGINE: engine } },
      })),
    ],
  },
});

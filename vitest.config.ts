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

export default defineConfig({
  plugins: [textAssets()],
  test: {
    include: [
      'test/**/*.test.ts',
      'common/src/**/*.test.ts',
      'plugin/src/**/*.test.ts',
      'server/src/**/*.test.ts',
      'host-harness/src/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});

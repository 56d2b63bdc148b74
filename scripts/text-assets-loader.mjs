// Node module hooks: load the plugin's UI assets (.html, .css, .txt under
// plugin/src/ui) as a default-exported string, like esbuild's text loader in
// the build and the vitest plugin in the tests.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const TEXT = /\/plugin\/src\/ui\/[^/]+\.(html|css|txt)$/;

export async function load(url, context, nextLoad) {
  const path = url.startsWith('file:') ? fileURLToPath(url.split('?')[0]) : null;
  if (path && TEXT.test(path)) {
    return { format: 'module', shortCircuit: true, source: `export default ${JSON.stringify(fs.readFileSync(path, 'utf8'))};` };
  }
  return nextLoad(url, context);
}

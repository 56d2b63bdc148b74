// Measures one cold start in a fresh process: read + compile + instantiate the
// plugin (createPlugin) and the first `manifest` call. Prints JSON.
import createPlugin from '@extism/extism';
import fs from 'node:fs';

const file = process.argv[2];
const fn = process.argv[3] ?? 'manifest';
const t0 = performance.now();
const plugin = await createPlugin({ wasm: [{ data: fs.readFileSync(file) }] }, {
  useWasi: true,
  logger: { debug() {}, info() {}, warn() {}, error() {}, trace() {} },
  functions: { 'extism:host/user': new Proxy({}, { get: () => (cp) => cp.store('') }) },
});
const t1 = performance.now();
await plugin.call(fn, '');
const t2 = performance.now();
await plugin.close();
console.log(JSON.stringify({ create: t1 - t0, first: t2 - t1, total: t2 - t0 }));

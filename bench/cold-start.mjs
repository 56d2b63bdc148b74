// Measures one cold start in a fresh process: read + compile + instantiate the
// plugin (createPlugin) and the first `manifest` call. Prints JSON.
//
// `--host-loaded`: a tiny module goes through createPlugin and a call first, so
// the parts of Node the Extism SDK loads on first use (WASI, fetch, crypto) are
// loaded before the clock starts: what a host that is already running pays to
// start this plugin (its module is still read and compiled from scratch).
import createPlugin from '@extism/extism';
import fs from 'node:fs';
import { readInterface } from '../scripts/build/interface.mjs';

const args = process.argv.slice(2);
const hostLoaded = args.includes('--host-loaded');
const [file, fn = 'manifest'] = args.filter((a) => !a.startsWith('--'));
const options = (functions) => ({
  useWasi: true,
  logger: { debug() {}, info() {}, warn() {}, error() {}, trace() {} },
  functions: { 'extism:host/user': functions },
});

if (hostLoaded) {
  // (module (memory (export "memory") 1) (func (export "noop")))
  const tiny = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 17, 2, 6, 109, 101, 109, 111, 114, 121, 2, 0, 4,
    110, 111, 111, 112, 0, 0, 10, 4, 1, 2, 0, 11,
  ]);
  const other = await createPlugin({ wasm: [{ data: tiny }] }, options({}));
  await other.call('noop', '');
  await other.close();
}

const t0 = performance.now();
const bytes = fs.readFileSync(file);
// Stub host functions (the first call, `manifest`, calls none of them).
const functions = {};
for (const imp of readInterface(bytes).imports) if (imp.module === 'extism:host/user') functions[imp.name] = () => 0n;
const plugin = await createPlugin({ wasm: [{ data: bytes }] }, options(functions));
const t1 = performance.now();
await plugin.call(fn, '');
const t2 = performance.now();
await plugin.close();
console.log(JSON.stringify({ create: t1 - t0, first: t2 - t1, total: t2 - t0 }));

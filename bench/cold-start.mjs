// Measures one cold start in a fresh process: read + compile + instantiate the
// plugin (createPlugin) and the first `manifest` call. Prints JSON.
import createPlugin from '@extism/extism';
import fs from 'node:fs';
import { readInterface } from '../scripts/build/interface.mjs';

const file = process.argv[2];
const fn = process.argv[3] ?? 'manifest';
const t0 = performance.now();
const bytes = fs.readFileSync(file);
// Stub host functions (the first call, `manifest`, calls none of them).
const functions = {};
for (const imp of readInterface(bytes).imports) if (imp.module === 'extism:host/user') functions[imp.name] = () => 0n;
const plugin = await createPlugin({ wasm: [{ data: bytes }] }, {
  useWasi: true,
  logger: { debug() {}, info() {}, warn() {}, error() {}, trace() {} },
  functions: { 'extism:host/user': functions },
});
const t1 = performance.now();
await plugin.call(fn, '');
const t2 = performance.now();
await plugin.close();
console.log(JSON.stringify({ create: t1 - t0, first: t2 - t1, total: t2 - t0 }));

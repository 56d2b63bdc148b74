#!/usr/bin/env node
// npm run build: plugin/src -> dist/diaryx_sync.wasm
//
//   esbuild bundle -> QuickJS bytecode (native compiler) -> gen.c -> clang (cached QuickJS engine objects) -> wasm-ld
//   -> Wizer pre-initialisation -> wasm-opt -> interface check
//   (and dist/extism-kernel.wasm, the Extism kernel for the Node host's `kernel` engine)
//
// Options:
//   --entry FILE        plugin entry (default plugin/src/index.ts)
//   --abi FILE          declarations of the host functions (default plugin/src/abi.d.ts)
//   --out FILE          output (default dist/diaryx_sync.wasm)
//   --no-wizer          skip pre-initialisation (the program is evaluated on the first call)
//   --no-opt            skip wasm-opt
//   --keep-debug        keep line numbers in the bytecode (the bundle is minified, so
//                       they rarely help; stripped by default: ~300 KB smaller)
//   --report FILE       write sizes and timings as JSON
//   --force             build even when no input changed (by default a build whose
//                       inputs are unchanged reuses the cached output: build/cache.mjs)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CACHE, CLANG, DIST, PLUGIN_SRC, ROOT, RUNTIME_DIR, WASM_OPT, WIZER } from './build/paths.mjs';
import { CFLAGS, engineObjects, nativeCompiler } from './build/quickjs.mjs';
import { bundle, declaredHostFunctions, programText, writeGenC } from './build/generate.mjs';
import { checkInterface } from './build/interface.mjs';
import { buildKernel } from './build/kernel.mjs';
import { buildKey, OutputCache } from './build/cache.mjs';

/** Shadow stack reserved by the linker; the JS limit in extism_runtime.c is below it. */
const STACK_SIZE = 512 * 1024;
const WASM_FEATURES = ['--enable-sign-ext', '--enable-mutable-globals'];

const { values: opts } = parseArgs({
  options: {
    entry: { type: 'string', default: path.join(PLUGIN_SRC, 'index.ts') },
    abi: { type: 'string', default: path.join(PLUGIN_SRC, 'abi.d.ts') },
    out: { type: 'string', default: path.join(DIST, 'diaryx_sync.wasm') },
    'no-wizer': { type: 'boolean', default: false },
    'no-opt': { type: 'boolean', default: false },
    report: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    'keep-debug': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
  },
});

const log = (msg) => {
  if (!opts.quiet) console.log(msg);
};
const timings = {};
async function step(name, fn) {
  const t0 = performance.now();
  const r = await fn();
  timings[name] = Math.round(performance.now() - t0);
  log(`[build] ${name}: ${timings[name]} ms`);
  return r;
}
const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });

const outName = path.basename(opts.out, '.wasm');
const work = path.join(CACHE, 'plugin', outName);
fs.mkdirSync(work, { recursive: true });
fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });

// The kernel module of the Node host's `kernel` engine (dist/extism-kernel.wasm).
await step('kernel', () => buildKernel());
const engine = await step('engine', () => engineObjects());
const { code, exportNames } = await step('bundle', () => bundle(path.resolve(opts.entry)));
const declared = declaredHostFunctions(path.resolve(opts.abi));
// Only host functions the bundle really references become imports (esbuild has
// already dropped unused code, and property names survive minification).
const hostNames = declared.filter((name) => new RegExp(`\\b${name}\\b`).test(code));
fs.writeFileSync(path.join(work, 'bundle.js'), code);

const writeReport = (fields) => {
  if (opts.report) fs.writeFileSync(opts.report, JSON.stringify({ out: opts.out, exportNames, hostNames, timings, ...fields }, null, 2));
};
const program = programText(code);
const cache = new OutputCache(work);
const key = buildKey({
  program: createHash('sha256').update(program).digest('hex'),
  exportNames,
  hostNames,
  engine: engine.objects.map((o) => path.relative(CACHE, o)),
  compiler: path.relative(CACHE, nativeCompiler()),
  options: { wizer: !opts['no-wizer'], opt: !opts['no-opt'], keepDebug: opts['keep-debug'], STACK_SIZE, WASM_FEATURES },
});
const cached = opts.force ? null : cache.lookup(key);
if (cached) {
  fs.copyFileSync(cached.wasm, opts.out);
  await step('interface check', () => checkInterface(opts.out, { exportNames, hostNames, preinitialised: !opts['no-wizer'] }));
  log(`[build] ${path.relative(ROOT, path.resolve(opts.out))}: inputs unchanged, cached output reused (${cached.record.size} bytes; --force rebuilds)`);
  writeReport({ size: cached.record.size, sizeBeforeOpt: cached.record.sizeBeforeOpt, wizer: !opts['no-wizer'], cached: true });
  process.exit(0);
}

const genC = path.join(work, 'gen.c');
const genO = path.join(work, 'gen.o');
const raw = path.join(work, 'raw.wasm');
const bytecode = await step('bytecode', () => {
  const js = path.join(work, 'program.js');
  const bin = path.join(work, 'program.bin');
  fs.writeFileSync(js, program);
  run(nativeCompiler(), [js, bin, ...(opts['keep-debug'] ? [] : ['--strip-debug'])]);
  return fs.readFileSync(bin);
});
await step('compile gen.c', () => {
  writeGenC(genC, { program: bytecode, exportNames, hostNames });
  run(CLANG, [...CFLAGS, `-I${RUNTIME_DIR}`, '-c', genC, '-o', genO]);
});
await step('link', () =>
  run(CLANG, [
    ...CFLAGS.filter((f) => !f.startsWith('-O')),
    '-nostartfiles',
    '-Wl,--no-entry',
    `-Wl,-z,stack-size=${STACK_SIZE}`,
    '-Wl,--stack-first',
    '-Wl,--strip-all',
    '-o', raw,
    genO,
    ...engine.objects,
  ]),
);

let current = raw;
if (!opts['no-wizer']) {
  const wizened = path.join(work, 'wizer.wasm');
  await step('wizer', () =>
    run(WIZER, [current, '-o', wizened, '--allow-wasi', '--inherit-stdio', 'true', '-f', 'wizer.initialize']),
  );
  current = wizened;
}
const sizeBeforeOpt = fs.statSync(current).size;
if (!opts['no-opt']) {
  const optimized = path.join(work, 'opt.wasm');
  await step('wasm-opt', () => run(WASM_OPT, [current, '-Oz', ...WASM_FEATURES, '-o', optimized]));
  current = optimized;
}
fs.copyFileSync(current, opts.out);
const size = fs.statSync(opts.out).size;
await step('interface check', () => checkInterface(opts.out, { exportNames, hostNames, preinitialised: !opts['no-wizer'] }));
log(`[build] ${path.relative(ROOT, path.resolve(opts.out))}: ${size} bytes (before wasm-opt ${sizeBeforeOpt}); exports ${exportNames.length}, host functions ${hostNames.length}`);
cache.store(key, opts.out, { size, sizeBeforeOpt });
writeReport({ size, sizeBeforeOpt, wizer: !opts['no-wizer'], cached: false });

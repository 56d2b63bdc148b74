// QuickJS engine objects for wasm32-wasi, cached under .build/engine/<key>/.
//
// The C sources come from Debian's `quickjs` source package (Bellard's
// QuickJS 2025-04-26), fetched with apt-get through a private sources list
// (the system apt configuration is not touched), checked by sha256, patched
// for WASI and compiled with Debian's clang. Nothing fetched is committed.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CACHE, CLANG, RUNTIME_DIR, WASI_SYSROOT } from './paths.mjs';

export const QUICKJS = {
  version: '2025-04-26',
  debianVersion: '2025.04.26-1',
  tarball: 'quickjs_2025.04.26.orig.tar.xz',
  sha256: 'ec81da5b3249ed648dbc7df4a1654988910e66a118d9b71cb63534216efcfbbe',
  dir: 'quickjs-2025.04.26',
  suite: 'trixie',
};

const ENGINE_SOURCES = ['quickjs', 'libregexp', 'libunicode', 'cutils', 'dtoa'];

export const CFLAGS = [
  '--target=wasm32-wasi',
  `--sysroot=${WASI_SYSROOT}`,
  '-O2',
  '-D_GNU_SOURCE',
  `-DCONFIG_VERSION="${QUICKJS.version}"`,
  '-Wno-everything',
];

/** Each patch must apply exactly once; a new upstream layout fails loudly. */
const PATCHES = [
  {
    file: 'quickjs.c',
    why: 'no computed goto in wasm: use the switch interpreter',
    from: '#if defined(EMSCRIPTEN)\n#define DIRECT_DISPATCH  0',
    to: '#if defined(EMSCRIPTEN) || defined(__wasi__)\n#define DIRECT_DISPATCH  0',
  },
  {
    file: 'quickjs.c',
    why: 'no threads in wasm32-wasi: no Atomics (the stack check stays on)',
    from: '#if !defined(EMSCRIPTEN)\n#define CONFIG_ATOMICS',
    to: '#if !defined(EMSCRIPTEN) && !defined(__wasi__)\n#define CONFIG_ATOMICS',
  },
  {
    file: 'quickjs.c',
    why: 'wasi-libc has malloc_usable_size in <malloc.h> (keeps the memory limit accurate)',
    from: '#elif defined(__linux__) || defined(__GLIBC__)\n#include <malloc.h>',
    to: '#elif defined(__linux__) || defined(__GLIBC__) || defined(__wasi__)\n#include <malloc.h>',
  },
  {
    file: 'dtoa.c',
    why: 'unused include; wasi-libc has no setjmp.h and clang would fall through to glibc',
    from: '#include <setjmp.h>\n',
    to: '',
  },
];

/**
 * Appended to quickjs.c: lets the runtime reseed Math.random after a snapshot,
 * and recover the runtime after a trap aborted an export call (see
 * extism_runtime.c, "aborted calls").
 */
const RESEED_FN = `
/* diaryx-sync: reseed Math.random at the first call after pre-initialisation */
void JS_ReseedRandom(JSContext *ctx, uint64_t seed)
{
    ctx->random_state = seed ? seed : 1;
}

/* diaryx-sync: forget the frames of a call that a wasm trap aborted. Closures
   created in those frames still point at their variables on the dead stack:
   they get their own copies (as when a function returns), unless the frames
   cannot be read safely (walk_frames 0). The dead call's pending jobs and
   exception are dropped, so none of its continuations runs in a later call. */
void JS_RecoverAbortedCall(JSRuntime *rt, int walk_frames)
{
    struct list_head *el, *el1;
    JSStackFrame *sf;
    int i;

    if (walk_frames) {
        for (sf = rt->current_stack_frame; sf != NULL; sf = sf->prev_frame) {
            /* only bytecode frames have a var_ref_list (C function frames leave it unset) */
            if (JS_VALUE_GET_TAG(sf->cur_func) == JS_TAG_OBJECT &&
                JS_VALUE_GET_OBJ(sf->cur_func)->class_id == JS_CLASS_BYTECODE_FUNCTION)
                close_var_refs(rt, sf);
        }
    }
    rt->current_stack_frame = NULL;
    JS_FreeValueRT(rt, rt->current_exception);
    rt->current_exception = JS_UNINITIALIZED;
    rt->in_out_of_memory = FALSE;
    list_for_each_safe(el, el1, &rt->job_list) {
        JSJobEntry *e = list_entry(el, JSJobEntry, link);
        list_del(&e->link);
        for (i = 0; i < e->argc; i++)
            JS_FreeValueRT(rt, e->argv[i]);
        js_free_rt(rt, e);
    }
}
`;

function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Downloads the pinned source tarball with apt-get (private list), verifies it. */
function fetchTarball() {
  const dir = path.join(CACHE, 'quickjs');
  const tarball = path.join(dir, QUICKJS.tarball);
  if (fs.existsSync(tarball) && sha256(fs.readFileSync(tarball)) === QUICKJS.sha256) return tarball;
  const apt = path.join(dir, 'apt');
  fs.mkdirSync(path.join(apt, 'lists', 'partial'), { recursive: true });
  const list = path.join(apt, 'sources.list');
  fs.writeFileSync(
    list,
    `deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${QUICKJS.suite} main\n`,
  );
  const opts = [
    '-o', `Dir::Etc::SourceList=${list}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${path.join(apt, 'lists')}`,
    '-o', 'APT::Sandbox::User=root',
  ];
  console.log(`[quickjs] fetching Debian source package quickjs ${QUICKJS.debianVersion}`);
  run('apt-get', [...opts, 'update', '-qq']);
  run('apt-get', [...opts, 'source', '--download-only', `quickjs=${QUICKJS.debianVersion}`], { cwd: dir });
  const actual = sha256(fs.readFileSync(tarball));
  if (actual !== QUICKJS.sha256) {
    fs.rmSync(tarball);
    throw new Error(`QuickJS source checksum mismatch: expected ${QUICKJS.sha256}, got ${actual}`);
  }
  return tarball;
}

/** Extracts and patches the sources; returns the source directory. */
function prepareSources() {
  const srcRoot = path.join(CACHE, 'quickjs', 'src');
  const src = path.join(srcRoot, QUICKJS.dir);
  const stamp = path.join(srcRoot, 'patched.stamp');
  const patchKey = sha256(JSON.stringify({ QUICKJS, PATCHES, RESEED_FN }));
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === patchKey) return src;
  const tarball = fetchTarball();
  fs.rmSync(srcRoot, { recursive: true, force: true });
  fs.mkdirSync(srcRoot, { recursive: true });
  run('tar', ['-xJf', tarball, '-C', srcRoot]);
  for (const p of PATCHES) {
    const file = path.join(src, p.file);
    const text = fs.readFileSync(file, 'utf8');
    const count = text.split(p.from).length - 1;
    if (count !== 1) throw new Error(`QuickJS patch "${p.why}" matched ${count} times in ${p.file}`);
    fs.writeFileSync(file, text.replace(p.from, p.to));
  }
  fs.appendFileSync(path.join(src, 'quickjs.c'), RESEED_FN);
  fs.writeFileSync(stamp, patchKey);
  return src;
}

/** Native flags: EMSCRIPTEN turns Atomics off like the wasm build does, so bytecode matches. */
const NATIVE_CFLAGS = ['-O1', '-DEMSCRIPTEN', '-D_GNU_SOURCE', `-DCONFIG_VERSION="${QUICKJS.version}"`, '-w'];

/**
 * The native build-time bytecode compiler (plugin/runtime/compile.c with the
 * same QuickJS sources), built once and cached.
 */
export function nativeCompiler() {
  const src = prepareSources();
  const compileC = path.join(RUNTIME_DIR, 'compile.c');
  const key = sha256(JSON.stringify({ QUICKJS, PATCHES, RESEED_FN, NATIVE_CFLAGS, c: sha256(fs.readFileSync(compileC)) })).slice(0, 16);
  const exe = path.join(CACHE, 'engine', `qjs-compile-${key}`);
  if (fs.existsSync(exe)) return exe;
  console.log('[quickjs] building the native bytecode compiler');
  fs.mkdirSync(path.dirname(exe), { recursive: true });
  const cc = process.env.CC ?? 'gcc';
  run(cc, [...NATIVE_CFLAGS, `-I${src}`, '-o', `${exe}.tmp`, compileC, ...ENGINE_SOURCES.map((n) => path.join(src, `${n}.c`)), '-lm', '-lpthread', '-ldl']);
  fs.renameSync(`${exe}.tmp`, exe);
  return exe;
}

/**
 * Returns the object files of the engine (QuickJS + the Extism runtime),
 * compiling them only when the sources or flags changed.
 */
export function engineObjects() {
  const src = prepareSources();
  const engineKey = sha256(JSON.stringify({ QUICKJS, PATCHES, RESEED_FN, CFLAGS })).slice(0, 16);
  const engineDir = path.join(CACHE, 'engine', engineKey);
  fs.mkdirSync(engineDir, { recursive: true });
  const objects = [];
  for (const name of ENGINE_SOURCES) {
    const obj = path.join(engineDir, `${name}.o`);
    objects.push(obj);
    if (fs.existsSync(obj)) continue;
    console.log(`[quickjs] compiling ${name}.c`);
    run(CLANG, [...CFLAGS, '-c', path.join(src, `${name}.c`), '-o', `${obj}.tmp`]);
    fs.renameSync(`${obj}.tmp`, obj);
  }
  const runtimeKey = sha256(
    JSON.stringify({ engineKey, files: ['extism_runtime.c', 'extism_runtime.h', 'stack.s'].map((f) => sha256(fs.readFileSync(path.join(RUNTIME_DIR, f)))) }),
  ).slice(0, 16);
  const rtObj = path.join(CACHE, 'engine', `extism_runtime-${runtimeKey}.o`);
  if (!fs.existsSync(rtObj)) {
    console.log('[quickjs] compiling extism_runtime.c');
    const flags = [...CFLAGS.filter((f) => f !== '-Wno-everything'), '-Wall', '-Wno-unused-parameter', '-Werror'];
    run(CLANG, [...flags, `-I${src}`, '-c', path.join(RUNTIME_DIR, 'extism_runtime.c'), '-o', `${rtObj}.tmp`], { stdio: 'inherit' });
    fs.renameSync(`${rtObj}.tmp`, rtObj);
  }
  objects.push(rtObj);
  const stackObj = path.join(CACHE, 'engine', `stack-${runtimeKey}.o`);
  if (!fs.existsSync(stackObj)) {
    run(CLANG, [...CFLAGS, '-c', path.join(RUNTIME_DIR, 'stack.s'), '-o', `${stackObj}.tmp`], { stdio: 'inherit' });
    fs.renameSync(`${stackObj}.tmp`, stackObj);
  }
  objects.push(stackObj);
  return { objects, includeDir: src };
}

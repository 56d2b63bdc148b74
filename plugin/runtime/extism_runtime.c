/*
 * QuickJS runtime for Extism plugins.
 *
 * Implements the Extism guest ABI (imports from `extism:host/env`, exactly the
 * kernel's names and signatures) and exposes it to JavaScript as the native
 * object `__ext`; prelude.js builds the @extism/js-pdk globals (Host, Memory,
 * Var, Config, console, TextEncoder/TextDecoder, crypto) on top of it.
 *
 * Life cycle:
 * - `wizer.initialize` (run once at build time by Wizer) creates the runtime,
 *   loads and runs the program (prelude + bundle, compiled to bytecode at
 *   build time), runs the GC and zeroes what the snapshot does not need
 *   (the bytecode, freed memory, unused stack), so instantiating the
 *   plugin never parses or runs the bundle again.
 * - Without pre-initialisation the same setup runs lazily on the first call.
 * - Every export call: update the stack top (stack check), reseed Math.random
 *   on the first call (a snapshot must not freeze randomness), call the JS
 *   function, drain pending jobs, and turn an exception or a rejected promise
 *   into an Extism error. The instance stays usable after an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <malloc.h>

#include "quickjs.h"
#include "extism_runtime.h"

/* ---- Extism kernel imports ------------------------------------------- */
#define EXTISM_ENV(name) __attribute__((import_module("extism:host/env"), import_name(#name)))

EXTISM_ENV(input_length) uint64_t extism_input_length(void);
EXTISM_ENV(input_load_u8) uint32_t extism_input_load_u8(uint64_t offset);
EXTISM_ENV(input_load_u64) uint64_t extism_input_load_u64(uint64_t offset);
EXTISM_ENV(length) uint64_t extism_length(uint64_t offset);
EXTISM_ENV(alloc) uint64_t extism_alloc(uint64_t length);
EXTISM_ENV(free) void extism_free(uint64_t offset);
EXTISM_ENV(load_u8) uint32_t extism_load_u8(uint64_t offset);
EXTISM_ENV(load_u64) uint64_t extism_load_u64(uint64_t offset);
EXTISM_ENV(store_u8) void extism_store_u8(uint64_t offset, uint32_t value);
EXTISM_ENV(store_u64) void extism_store_u64(uint64_t offset, uint64_t value);
EXTISM_ENV(output_set) void extism_output_set(uint64_t offset, uint64_t length);
EXTISM_ENV(error_set) void extism_error_set(uint64_t offset);
EXTISM_ENV(config_get) uint64_t extism_config_get(uint64_t key_offset);
EXTISM_ENV(var_get) uint64_t extism_var_get(uint64_t key_offset);
EXTISM_ENV(var_set) void extism_var_set(uint64_t key_offset, uint64_t value_offset);
EXTISM_ENV(log_debug) void extism_log_debug(uint64_t offset);
EXTISM_ENV(log_info) void extism_log_info(uint64_t offset);
EXTISM_ENV(log_warn) void extism_log_warn(uint64_t offset);
EXTISM_ENV(log_error) void extism_log_error(uint64_t offset);

/* Added to quickjs.c by the build (see scripts/build/quickjs.mjs). */
void JS_ReseedRandom(JSContext *ctx, uint64_t seed);
extern void __wasm_call_ctors(void);
extern unsigned char __stack_low;

/* Shadow-stack budget for JavaScript (kept well under the native stack a
 * wasm engine gives a call: wasmtime defaults to 512 KiB); the linker reserves
 * more (see build),
 * so a runaway recursion becomes a catchable "stack overflow" error. */
#define JS_STACK_LIMIT (256 * 1024)
/* Default heap limit; Extism config `js_memory_limit_mb` overrides it. */
#define DEFAULT_MEMORY_LIMIT_MB 1536

static JSRuntime *rt;
static JSContext *ctx;
static JSValue *export_fns;
static int engine_ready;
static int first_call_done;

/* ---- Extism memory helpers ------------------------------------------- */

/* Copies `len` bytes into a new Extism block. Returns 0 on success with the
 * offset in *out, -1 when the host could not allocate. A zero-length value is
 * whatever alloc(0) answers: the kernel (Rust and Go SDKs) answers 0, the
 * empty handle, and the JS SDK a fresh zero-length block; both mean "empty". */
static int store_block(const uint8_t *data, size_t len, uint64_t *out) {
    uint64_t off = extism_alloc(len);
    *out = off;
    if (len == 0)
        return 0;
    if (off == 0)
        return -1;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, data + i, 8);
        extism_store_u64(off + i, word);
    }
    for (; i < len; i++)
        extism_store_u8(off + i, data[i]);
    return 0;
}

/* Reads a block. Offset 0 is the empty value and is never passed to the
 * host: the JS SDK keeps a one-byte "null page" there, so its length(0) is 1. */
static uint8_t *load_block(uint64_t off, size_t *plen) {
    size_t len = off == 0 ? 0 : (size_t)extism_length(off);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word = extism_load_u64(off + i);
        memcpy(buf + i, &word, 8);
    }
    for (; i < len; i++)
        buf[i] = (uint8_t)extism_load_u8(off + i);
    *plen = len;
    return buf;
}

static uint8_t *load_input(size_t *plen) {
    size_t len = (size_t)extism_input_length();
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word = extism_input_load_u64(i);
        memcpy(buf + i, &word, 8);
    }
    for (; i < len; i++)
        buf[i] = (uint8_t)extism_input_load_u8(i);
    *plen = len;
    return buf;
}

/* Sets the Extism error. The text is never empty: an empty error block is
 * offset 0 under the kernel, and error_set(0) means "no error" there (the
 * call would then fail with a bare exit code), while the JS SDK takes its
 * null page as the error text. */
static void set_error_text(const char *msg, size_t len) {
    static const char empty_error[] = "Error (no message)";
    if (len == 0) {
        msg = empty_error;
        len = sizeof empty_error - 1;
    }
    uint64_t off;
    if (store_block((const uint8_t *)msg, len, &off) == 0)
        extism_error_set(off);
}

/* ---- UTF-8 ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_valid_seq(const uint8_t *p, size_t avail) {
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (avail >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && p[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && p[1] >= 0xa0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && p[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

/* Length of the maximal subpart of an invalid sequence (WHATWG decoder:
 * one U+FFFD per maximal subpart). */
static size_t utf8_invalid_len(const uint8_t *p, size_t avail) {
    uint8_t c = p[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 1;
    size_t n = 1;
    while (n <= need && n < avail) {
        uint8_t b = p[n];
        if (b < lo || b > hi)
            break;
        lo = 0x80;
        hi = 0xbf;
        n++;
    }
    return n;
}

/* Creates a JS string from bytes. Invalid sequences become U+FFFD unless
 * `fatal`, where they throw a TypeError (TextDecoder semantics). */
static JSValue new_string_from_utf8(JSContext *c, const uint8_t *buf, size_t len, int fatal) {
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_valid_seq(buf + i, len - i);
        if (!n)
            break;
        i += n;
    }
    if (i == len)
        return JS_NewStringLen(c, (const char *)buf, len);
    if (fatal)
        return JS_ThrowTypeError(c, "The encoded data was not valid for encoding utf-8");
    /* Worst case every byte becomes EF BF BD. */
    uint8_t *out = malloc(len * 3 + 1);
    if (!out)
        return JS_ThrowOutOfMemory(c);
    memcpy(out, buf, i);
    size_t o = i;
    while (i < len) {
        size_t n = utf8_valid_seq(buf + i, len - i);
        if (n) {
            memcpy(out + o, buf + i, n);
            o += n;
            i += n;
        } else {
            out[o++] = 0xef;
            out[o++] = 0xbf;
            out[o++] = 0xbd;
            i += utf8_invalid_len(buf + i, len - i);
        }
    }
    JSValue s = JS_NewStringLen(c, (const char *)out, o);
    free(out);
    return s;
}

/* UTF-8 of a JS string; lone surrogates become U+FFFD (same byte length).
 * The result is owned by QuickJS: release with JS_FreeCString. */
static const char *string_to_utf8(JSContext *c, JSValueConst v, size_t *plen) {
    const char *s = JS_ToCStringLen2(c, plen, v, 0);
    if (!s)
        return NULL;
    char *w = (char *)s;
    for (size_t i = 0; i + 2 < *plen; i++) {
        if ((uint8_t)w[i] == 0xed && ((uint8_t)w[i + 1] & 0xe0) == 0xa0) {
            w[i] = (char)0xef;
            w[i + 1] = (char)0xbf;
            w[i + 2] = (char)0xbd;
            i += 2;
        }
    }
    return s;
}

/* ---- value helpers ---------------------------------------------------- */

static int to_u64(JSContext *c, uint64_t *out, JSValueConst v) {
    int64_t x;
    if (JS_IsBigInt(c, v)) {
        if (JS_ToBigInt64(c, &x, v))
            return -1;
    } else if (JS_ToInt64(c, &x, v))
        return -1;
    *out = (uint64_t)x;
    return 0;
}

/* Bytes of an ArrayBuffer argument, restricted to [byteOffset, byteOffset+byteLength)
 * when those are given (prelude.js passes views that way). */
static const uint8_t *get_bytes(JSContext *c, JSValueConst *argv, int argc, int first, size_t *plen) {
    size_t size;
    uint8_t *buf = JS_GetArrayBuffer(c, &size, argv[first]);
    if (!buf) {
        if (JS_HasException(c))
            return NULL;
        /* a zero-length buffer may have no storage */
        *plen = 0;
        return (const uint8_t *)"";
    }
    uint64_t off = 0, len = size;
    if (argc > first + 2) {
        if (to_u64(c, &off, argv[first + 1]) || to_u64(c, &len, argv[first + 2]))
            return NULL;
        if (off > size || len > size - off) {
            JS_ThrowRangeError(c, "byte range outside the buffer");
            return NULL;
        }
    }
    *plen = (size_t)len;
    return buf + off;
}

static void free_array_buffer(JSRuntime *r, void *opaque, void *ptr) {
    (void)r;
    (void)opaque;
    free(ptr);
}

static JSValue new_array_buffer_owned(JSContext *c, uint8_t *buf, size_t len) {
    return JS_NewArrayBuffer(c, buf, len, free_array_buffer, NULL, 0);
}

/* Stores a JS string or ArrayBuffer (with optional offset/length) in a new
 * Extism block; returns 0 with the offset in *out (0 may be the empty value),
 * or -1 with an exception pending. */
static int store_value(JSContext *c, JSValueConst *argv, int argc, int first, uint64_t *out, size_t *plen) {
    size_t len;
    int r;
    if (JS_IsString(argv[first])) {
        const char *s = string_to_utf8(c, argv[first], &len);
        if (!s)
            return -1;
        r = store_block((const uint8_t *)s, len, out);
        JS_FreeCString(c, s);
    } else {
        const uint8_t *bytes = get_bytes(c, argv, argc, first, &len);
        if (!bytes)
            return -1;
        r = store_block(bytes, len, out);
    }
    if (r != 0) {
        JS_ThrowInternalError(c, "Extism alloc failed (%zu bytes)", len);
        return -1;
    }
    if (plen)
        *plen = len;
    return 0;
}

/* ---- __ext natives ---------------------------------------------------- */

static JSValue ext_input_bytes(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t len;
    uint8_t *buf = load_input(&len);
    if (!buf)
        return JS_ThrowOutOfMemory(c);
    return new_array_buffer_owned(c, buf, len);
}

static JSValue ext_input_string(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t len;
    uint8_t *buf = load_input(&len);
    if (!buf)
        return JS_ThrowOutOfMemory(c);
    JSValue s = new_string_from_utf8(c, buf, len, 0);
    free(buf);
    return s;
}

/* Whether the running call has set an output (an empty output after a
 * non-empty one must replace it). */
static int output_set_in_call;

/* output(stringOrBuffer[, byteOffset, byteLength]) */
static JSValue ext_output(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t off;
    size_t len;
    if (store_value(c, argv, argc, 0, &off, &len))
        return JS_EXCEPTION;
    /* The empty output of a kernel host is offset 0: an unset output is
     * empty, so nothing is set, unless it replaces an earlier output of this
     * call. The kernel ignores output_set(0, 0) (0 is out of bounds), so the
     * replacement is a one-byte block with length 0. A JS SDK host answers
     * alloc(0) with a real zero-length block, so off is non-zero there. */
    if (off != 0) {
        extism_output_set(off, len);
    } else if (output_set_in_call) {
        uint64_t one = extism_alloc(1);
        if (one == 0)
            return JS_ThrowInternalError(c, "Extism alloc failed (1 byte)");
        extism_output_set(one, 0);
    }
    output_set_in_call = 1;
    return JS_TRUE;
}

/* memAlloc(stringOrBuffer[, byteOffset, byteLength]) -> BigInt offset (0n = empty under a kernel host) */
static JSValue ext_mem_alloc(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t off;
    if (store_value(c, argv, argc, 0, &off, NULL))
        return JS_EXCEPTION;
    return JS_NewBigUint64(c, off);
}

static JSValue ext_mem_read(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t off;
    if (to_u64(c, &off, argv[0]))
        return JS_EXCEPTION;
    size_t len;
    uint8_t *buf = load_block(off, &len);
    if (!buf)
        return JS_ThrowOutOfMemory(c);
    return new_array_buffer_owned(c, buf, len);
}

static JSValue ext_mem_read_string(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t off;
    if (to_u64(c, &off, argv[0]))
        return JS_EXCEPTION;
    size_t len;
    uint8_t *buf = load_block(off, &len);
    if (!buf)
        return JS_ThrowOutOfMemory(c);
    JSValue s = new_string_from_utf8(c, buf, len, 0);
    free(buf);
    return s;
}

static JSValue ext_mem_length(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t off;
    if (to_u64(c, &off, argv[0]))
        return JS_EXCEPTION;
    return JS_NewBigUint64(c, off == 0 ? 0 : extism_length(off));
}

static JSValue ext_mem_free(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t off;
    if (to_u64(c, &off, argv[0]))
        return JS_EXCEPTION;
    if (off)
        extism_free(off);
    return JS_UNDEFINED;
}

/* Handles passed to config_get, var_get, var_set and log_* belong to the host
 * from then on: the Rust host and the JS SDK 2 free them (the host may even
 * hand the same block back as the answer), JS SDK 1.0 keeps a var_set value
 * as the variable's storage. The guest never frees them; the host's reset
 * after the call reclaims what it kept. An empty key or message (offset 0)
 * is never passed: the JS SDK reads its null page there. */

/* Stores a non-empty key; returns 1 with *out set, 0 for an empty key, -1 on error. */
static int store_key(JSContext *c, JSValueConst *argv, int argc, int first, uint64_t *out) {
    size_t len;
    if (store_value(c, argv, argc, first, out, &len))
        return -1;
    return len == 0 ? 0 : 1;
}

/* configGet(key) -> string | null */
static JSValue ext_config_get(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t key;
    int r = store_key(c, argv, 1, 0, &key);
    if (r < 0)
        return JS_EXCEPTION;
    if (r == 0)
        return JS_NULL;
    uint64_t val = extism_config_get(key);
    if (!val)
        return JS_NULL;
    size_t len;
    uint8_t *buf = load_block(val, &len);
    extism_free(val);
    if (!buf)
        return JS_ThrowOutOfMemory(c);
    JSValue s = new_string_from_utf8(c, buf, len, 0);
    free(buf);
    return s;
}

/* varGet(key) -> ArrayBuffer | null */
static JSValue ext_var_get(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t key;
    int r = store_key(c, argv, 1, 0, &key);
    if (r < 0)
        return JS_EXCEPTION;
    if (r == 0)
        return JS_NULL;
    uint64_t val = extism_var_get(key);
    if (!val)
        return JS_NULL;
    /* JS SDK 1.0 answers the variable's own storage block: read, never free. */
    size_t len;
    uint8_t *buf = load_block(val, &len);
    if (!buf)
        return JS_ThrowOutOfMemory(c);
    return new_array_buffer_owned(c, buf, len);
}

/* varSet(key, value | null[, byteOffset, byteLength]). An empty value is
 * offset 0 under the kernel, which every host takes as "remove the
 * variable": it is passed as 0 everywhere, so an empty value reads back as
 * null on every host. */
static JSValue ext_var_set(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    uint64_t key;
    int r = store_key(c, argv, 1, 0, &key);
    if (r < 0)
        return JS_EXCEPTION;
    if (r == 0)
        return JS_ThrowRangeError(c, "Var: the variable name must not be empty");
    uint64_t val = 0;
    if (argc > 1 && !JS_IsNull(argv[1]) && !JS_IsUndefined(argv[1])) {
        size_t len;
        if (store_value(c, argv, argc, 1, &val, &len))
            return JS_EXCEPTION;
        if (len == 0) {
            if (val)
                extism_free(val);
            val = 0;
        }
    }
    extism_var_set(key, val);
    return JS_UNDEFINED;
}

static void log_block(int level, uint64_t msg) {
    switch (level) {
    case 0: extism_log_debug(msg); break;
    case 2: extism_log_warn(msg); break;
    case 3: extism_log_error(msg); break;
    default: extism_log_info(msg); break;
    }
}

/* log(level, message): 0 debug, 1 info, 2 warn, 3 error. An empty message is
 * not logged. */
static JSValue ext_log(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    int32_t level;
    if (JS_ToInt32(c, &level, argv[0]))
        return JS_EXCEPTION;
    uint64_t msg;
    int r = store_key(c, argv, 2, 1, &msg);
    if (r < 0)
        return JS_EXCEPTION;
    if (r > 0)
        log_block(level, msg);
    return JS_UNDEFINED;
}

static JSValue ext_call_host(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    int32_t idx;
    uint64_t off;
    if (JS_ToInt32(c, &idx, argv[0]) || to_u64(c, &off, argv[1]))
        return JS_EXCEPTION;
    if (idx < 0 || idx >= extjs_host_count)
        return JS_ThrowRangeError(c, "unknown host function index %d", idx);
    return JS_NewBigUint64(c, extjs_call_host(idx, off));
}

static JSValue ext_host_names(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    JSValue arr = JS_NewArray(c);
    for (int i = 0; i < extjs_host_count; i++)
        JS_SetPropertyUint32(c, arr, (uint32_t)i, JS_NewString(c, extjs_host_names[i]));
    return arr;
}

static JSValue ext_utf8_encode(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t len;
    const char *s = string_to_utf8(c, argv[0], &len);
    if (!s)
        return JS_EXCEPTION;
    JSValue ab = JS_NewArrayBufferCopy(c, (const uint8_t *)s, len);
    JS_FreeCString(c, s);
    return ab;
}

/* utf8Decode(buffer, byteOffset, byteLength, fatal) */
static JSValue ext_utf8_decode(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t len;
    const uint8_t *bytes = get_bytes(c, argv, argc, 0, &len);
    if (!bytes)
        return JS_EXCEPTION;
    int fatal = argc > 3 && JS_ToBool(c, argv[3]);
    return new_string_from_utf8(c, bytes, len, fatal);
}

/* Set while the program (prelude + bundle) is evaluated: at build time under
 * Wizer, whose snapshot would freeze whatever was drawn into every instance. */
static int evaluating_program;

/* randomFill(buffer, byteOffset, byteLength): cryptographic random bytes (WASI random_get). */
static JSValue ext_random_fill(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    if (evaluating_program)
        return JS_ThrowInternalError(c, "crypto.getRandomValues called while the module initialises (a pre-initialised build would freeze the value)");
    size_t len;
    const uint8_t *bytes = get_bytes(c, argv, argc, 0, &len);
    if (!bytes)
        return JS_EXCEPTION;
    uint8_t *p = (uint8_t *)bytes;
    while (len > 0) {
        size_t n = len > 256 ? 256 : len;
        if (getentropy(p, n) != 0)
            return JS_ThrowInternalError(c, "random source unavailable");
        p += n;
        len -= n;
    }
    return JS_UNDEFINED;
}

/* ---- base64 ------------------------------------------------------------
 * Standard padded base64 for plugin storage and the wire: the same codec in
 * JavaScript (common/src/base64.ts) moves about 4 MB/s under the interpreter,
 * which made storage reads and writes of large workspaces take seconds. */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64Encode(buffer, byteOffset, byteLength) -> string */
static JSValue ext_base64_encode(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t len;
    const uint8_t *in = get_bytes(c, argv, argc, 0, &len);
    if (!in)
        return JS_EXCEPTION;
    size_t out_len = (len + 2) / 3 * 4;
    char *out = malloc(out_len ? out_len : 1);
    if (!out)
        return JS_ThrowOutOfMemory(c);
    size_t i = 0, o = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t n = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64_alphabet[n >> 18];
        out[o++] = b64_alphabet[(n >> 12) & 63];
        out[o++] = b64_alphabet[(n >> 6) & 63];
        out[o++] = b64_alphabet[n & 63];
    }
    if (i < len) {
        uint32_t n = ((uint32_t)in[i] << 16) | ((i + 1 < len ? (uint32_t)in[i + 1] : 0) << 8);
        out[o++] = b64_alphabet[n >> 18];
        out[o++] = b64_alphabet[(n >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(n >> 6) & 63] : '=';
        out[o++] = '=';
    }
    JSValue s = JS_NewStringLen(c, out, o);
    free(out);
    return s;
}

static int b64_value(uint8_t ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* base64Decode(string) -> ArrayBuffer, or null when the text is not strict
 * padded base64 (the caller then reports the exact error itself). */
static JSValue ext_base64_decode(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t len;
    const char *s = string_to_utf8(c, argv[0], &len);
    if (!s)
        return JS_EXCEPTION;
    const uint8_t *t = (const uint8_t *)s;
    if (len % 4 != 0) {
        JS_FreeCString(c, s);
        return JS_NULL;
    }
    size_t pad = 0;
    if (len >= 2 && t[len - 1] == '=' && t[len - 2] == '=') pad = 2;
    else if (len >= 1 && t[len - 1] == '=') pad = 1;
    size_t out_len = len / 4 * 3 - pad;
    uint8_t *out = malloc(out_len ? out_len : 1);
    if (!out) {
        JS_FreeCString(c, s);
        return JS_ThrowOutOfMemory(c);
    }
    size_t o = 0;
    int ok = 1;
    for (size_t i = 0; i < len && ok; i += 4) {
        uint32_t n = 0;
        for (int j = 0; j < 4; j++) {
            size_t idx = i + j;
            if (t[idx] == '=' && idx >= len - pad) {
                n <<= 6;
                continue;
            }
            int v = b64_value(t[idx]);
            if (v < 0) {
                ok = 0;
                break;
            }
            n = (n << 6) | (uint32_t)v;
        }
        if (!ok) break;
        out[o++] = (uint8_t)(n >> 16);
        if (o < out_len) out[o++] = (uint8_t)(n >> 8);
        if (o < out_len) out[o++] = (uint8_t)n;
    }
    /* non-canonical trailing bits are an error, as in the Rust crate */
    if (ok && pad > 0) {
        int v = b64_value(t[len - pad - 1]);
        if ((v & (pad == 2 ? 0x0f : 0x03)) != 0) ok = 0;
    }
    JS_FreeCString(c, s);
    if (!ok) {
        free(out);
        return JS_NULL;
    }
    return new_array_buffer_owned(c, out, out_len);
}

static JSValue ext_aborted_calls(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv);

static const JSCFunctionListEntry ext_funcs[] = {
    JS_CFUNC_DEF("abortedCalls", 0, ext_aborted_calls),
    JS_CFUNC_DEF("inputBytes", 0, ext_input_bytes),
    JS_CFUNC_DEF("inputString", 0, ext_input_string),
    JS_CFUNC_DEF("output", 3, ext_output),
    JS_CFUNC_DEF("memAlloc", 3, ext_mem_alloc),
    JS_CFUNC_DEF("memRead", 1, ext_mem_read),
    JS_CFUNC_DEF("memReadString", 1, ext_mem_read_string),
    JS_CFUNC_DEF("memLength", 1, ext_mem_length),
    JS_CFUNC_DEF("memFree", 1, ext_mem_free),
    JS_CFUNC_DEF("configGet", 1, ext_config_get),
    JS_CFUNC_DEF("varGet", 1, ext_var_get),
    JS_CFUNC_DEF("varSet", 4, ext_var_set),
    JS_CFUNC_DEF("log", 2, ext_log),
    JS_CFUNC_DEF("callHost", 2, ext_call_host),
    JS_CFUNC_DEF("hostNames", 0, ext_host_names),
    JS_CFUNC_DEF("utf8Encode", 1, ext_utf8_encode),
    JS_CFUNC_DEF("utf8Decode", 4, ext_utf8_decode),
    JS_CFUNC_DEF("randomFill", 3, ext_random_fill),
    JS_CFUNC_DEF("base64Encode", 3, ext_base64_encode),
    JS_CFUNC_DEF("base64Decode", 1, ext_base64_decode),
};

/* ---- errors ----------------------------------------------------------- */

/* Extism error text for a thrown value: "message" for a plain Error,
 * "Name: message" for other error types, String(value) otherwise.
 * The stack goes to the debug log. */
static void report_exception(JSValue exc) {
    const char *text = NULL;
    size_t len = 0;
    JSValue str = JS_UNDEFINED;
    if (JS_IsError(ctx, exc)) {
        JSValue name = JS_GetPropertyStr(ctx, exc, "name");
        JSValue message = JS_GetPropertyStr(ctx, exc, "message");
        const char *n = JS_ToCString(ctx, name);
        if (n && strcmp(n, "Error") == 0)
            str = JS_ToString(ctx, message);
        else
            str = JS_ToString(ctx, exc);
        if (n)
            JS_FreeCString(ctx, n);
        JS_FreeValue(ctx, name);
        JS_FreeValue(ctx, message);
        JSValue stack = JS_GetPropertyStr(ctx, exc, "stack");
        if (JS_IsString(stack)) {
            size_t slen;
            const char *s = string_to_utf8(ctx, stack, &slen);
            if (s) {
                /* keep the log line bounded: a stack overflow has thousands of frames */
                uint64_t off;
                if (slen > 0 && store_block((const uint8_t *)s, slen > 2048 ? 2048 : slen, &off) == 0)
                    extism_log_debug(off);
                JS_FreeCString(ctx, s);
            }
        }
        JS_FreeValue(ctx, stack);
    } else {
        str = JS_ToString(ctx, exc);
    }
    if (!JS_IsException(str))
        text = string_to_utf8(ctx, str, &len);
    if (text) {
        set_error_text(text, len);
        JS_FreeCString(ctx, text);
    } else {
        JSValue ignored = JS_GetException(ctx);
        JS_FreeValue(ctx, ignored);
        const char *fallback = "uncaught exception (could not be converted to a string)";
        set_error_text(fallback, strlen(fallback));
    }
    JS_FreeValue(ctx, str);
}


/* ---- allocator ---------------------------------------------------------- */

/* QuickJS's default allocator, plus one thing: while the program is evaluated
 * at pre-initialisation, freed memory is zeroed, so the parser's garbage does
 * not end up in the snapshot (Wizer drops zero pages). Off at run time. */
#define ALLOC_OVERHEAD 8
static int zero_on_free;

static void *rt_malloc(JSMallocState *s, size_t size) {
    if (s->malloc_size + size > s->malloc_limit)
        return NULL;
    void *ptr = malloc(size);
    if (!ptr)
        return NULL;
    s->malloc_count++;
    s->malloc_size += malloc_usable_size(ptr) + ALLOC_OVERHEAD;
    return ptr;
}

static void rt_free(JSMallocState *s, void *ptr) {
    if (!ptr)
        return;
    size_t size = malloc_usable_size(ptr);
    s->malloc_count--;
    s->malloc_size -= size + ALLOC_OVERHEAD;
    if (zero_on_free)
        memset(ptr, 0, size);
    free(ptr);
}

static void *rt_realloc(JSMallocState *s, void *ptr, size_t size) {
    if (!ptr)
        return size == 0 ? NULL : rt_malloc(s, size);
    if (size == 0) {
        rt_free(s, ptr);
        return NULL;
    }
    size_t old_size = malloc_usable_size(ptr);
    if (s->malloc_size + size - old_size > s->malloc_limit)
        return NULL;
    if (zero_on_free) {
        /* move by hand so the old block is zeroed too */
        void *fresh = malloc(size);
        if (!fresh)
            return NULL;
        memcpy(fresh, ptr, old_size < size ? old_size : size);
        memset(ptr, 0, old_size);
        free(ptr);
        s->malloc_size += malloc_usable_size(fresh) - old_size;
        return fresh;
    }
    void *moved = realloc(ptr, size);
    if (!moved)
        return NULL;
    s->malloc_size += malloc_usable_size(moved) - old_size;
    return moved;
}

static size_t rt_usable_size(const void *ptr) {
    return malloc_usable_size((void *)ptr);
}

static const JSMallocFunctions rt_malloc_funcs = { rt_malloc, rt_free, rt_realloc, rt_usable_size };

/* ---- engine setup ----------------------------------------------------- */

static void report_init_failure(const char *what) {
    JSValue exc = ctx ? JS_GetException(ctx) : JS_UNDEFINED;
    const char *msg = ctx ? JS_ToCString(ctx, exc) : NULL;
    char buf[512];
    size_t n = (size_t)snprintf(buf, sizeof buf, "plugin initialisation failed (%s): %s", what, msg ? msg : "");
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    set_error_text(buf, n);
    if (msg)
        JS_FreeCString(ctx, msg);
    if (ctx)
        JS_FreeValue(ctx, exc);
}

/* Creates the runtime and evaluates the program. Returns 0 on success. */
static int engine_init(void) {
    if (engine_ready)
        return 0;
    __wasm_call_ctors();
    rt = JS_NewRuntime2(&rt_malloc_funcs, NULL);
    if (!rt)
        return -1;
    JS_SetMaxStackSize(rt, JS_STACK_LIMIT);
    ctx = JS_NewContext(rt);
    if (!ctx)
        return -1;
    JS_UpdateStackTop(rt);

    JSValue global = JS_GetGlobalObject(ctx);
    JSValue ext = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, ext, ext_funcs, sizeof ext_funcs / sizeof ext_funcs[0]);
    JS_SetPropertyStr(ctx, global, "__ext", ext);

    /* The program is QuickJS bytecode compiled at build time (compile.c). */
    JSValue fn = JS_ReadObject(ctx, (const uint8_t *)extjs_program, extjs_program_len, JS_READ_OBJ_BYTECODE);
    evaluating_program = 1;
    JSValue r = JS_IsException(fn) ? fn : JS_EvalFunction(ctx, fn);
    evaluating_program = 0;
    if (JS_IsException(r)) {
        JS_FreeValue(ctx, global);
        return -2;
    }
    JS_FreeValue(ctx, r);

    JSValue plugin = JS_GetPropertyStr(ctx, global, "__plugin");
    export_fns = calloc((size_t)(extjs_export_count ? extjs_export_count : 1), sizeof(JSValue));
    for (int i = 0; i < extjs_export_count; i++) {
        JSValue fn = JS_GetPropertyStr(ctx, plugin, extjs_export_names[i]);
        if (!JS_IsFunction(ctx, fn)) {
            JS_FreeValue(ctx, fn);
            JS_ThrowTypeError(ctx, "export %s is not a function", extjs_export_names[i]);
            JS_FreeValue(ctx, plugin);
            JS_FreeValue(ctx, global);
            return -3;
        }
        export_fns[i] = fn;
    }
    JS_FreeValue(ctx, plugin);
    JS_FreeValue(ctx, global);
    engine_ready = 1;
    return 0;
}

/* Pre-initialisation entry point, called once by Wizer at build time. */
__attribute__((export_name("wizer.initialize"))) void wizer_initialize(void) {
    zero_on_free = 1;
    if (engine_init() != 0) {
        /* Wizer runs with the build's stdio: say why before trapping. */
        JSValue exc = ctx ? JS_GetException(ctx) : JS_UNDEFINED;
        const char *msg = ctx ? JS_ToCString(ctx, exc) : NULL;
        fprintf(stderr, "plugin pre-initialisation failed: %s\n", msg ? msg : "(no JavaScript exception)");
        abort();
    }
    JS_RunGC(rt);
    zero_on_free = 0;
    /* The program bytecode is no longer needed: zero it so the snapshot drops it. */
    memset(extjs_program, 0, extjs_program_len);
    /* Zero the unused part of the shadow stack below this frame for the same reason. */
    unsigned char *sp = (unsigned char *)__builtin_frame_address(0);
    unsigned char *low = &__stack_low;
    if (sp > low + 4096)
        memset(low, 0, (size_t)(sp - 4096 - low));
}

static void apply_memory_limit(void) {
    static const char name[] = "js_memory_limit_mb";
    uint64_t key, val = 0;
    if (store_block((const uint8_t *)name, sizeof name - 1, &key) == 0)
        val = extism_config_get(key); /* the key now belongs to the host */
    long mb = DEFAULT_MEMORY_LIMIT_MB;
    if (val) {
        size_t len;
        uint8_t *buf = load_block(val, &len);
        extism_free(val);
        if (buf) {
            char tmp[24];
            size_t n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
            memcpy(tmp, buf, n);
            tmp[n] = 0;
            long v = strtol(tmp, NULL, 10);
            if (v > 0)
                mb = v;
            free(buf);
        }
    }
    JS_SetMemoryLimit(rt, (size_t)mb * 1024 * 1024);
}

static void first_call_setup(void) {
    uint64_t seed = 0;
    if (getentropy(&seed, sizeof seed) != 0 || seed == 0)
        seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&seed;
    JS_ReseedRandom(ctx, seed);
    apply_memory_limit();
    first_call_done = 1;
}

/* Drains pending promise jobs; returns -1 if a job threw. */
static int drain_jobs(void) {
    JSContext *job_ctx;
    for (;;) {
        int r = JS_ExecutePendingJob(rt, &job_ctx);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
    }
}

/* ---- aborted calls ------------------------------------------------------
 * A host function may trap (the Rust host traps when a host function returns
 * an error). The trap unwinds every wasm frame of the call at once: no C or
 * JavaScript cleanup runs, the shadow-stack pointer stays where it was, and
 * QuickJS still points at the dead call's frames. The next export call
 * detects this (in_export is still set) and recovers before it runs:
 * extjs_recover (on the old, lower stack, so the dead frames it reads are not
 * overwritten) detaches the dead frames' closures and drops the dead call's
 * pending jobs and exception; then the generated wrapper, which has no stack
 * frame of its own, moves the stack pointer back to the top of the stack. */

/* Added to quickjs.c by the build (see scripts/build/quickjs.mjs). */
void JS_RecoverAbortedCall(JSRuntime *rt, int walk_frames);

static int in_export;
static uint32_t aborted_calls;

/* Shadow stack needed to walk the dead frames safely: below this much
 * headroom (the trap was a stack exhaustion) they are left as they are. */
#define RECOVER_HEADROOM (16 * 1024)

void extjs_recover(uintptr_t sp) {
    if (!in_export)
        return;
    in_export = 0;
    aborted_calls++;
    if (!engine_ready)
        return;
    /* JavaScript uses at most JS_STACK_LIMIT of the 512 KiB stack, so a trap
     * in a host call leaves ample room; only a trap from exhausting the
     * stack itself does not, and then the frames cannot be walked safely. */
    JS_RecoverAbortedCall(rt, sp > (uintptr_t)&__stack_low + RECOVER_HEADROOM);
}

/* Number of export calls aborted by a trap since the instance started
 * (read by JavaScript as __ext.abortedCalls()). */
static JSValue ext_aborted_calls(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    return JS_NewUint32(c, aborted_calls);
}

static int32_t run_export(int idx) {
    if (!engine_ready) {
        int r = engine_init();
        if (r != 0) {
            report_init_failure(r == -1 ? "runtime" : r == -2 ? "evaluating the program" : "exports");
            return 1;
        }
    }
    JS_UpdateStackTop(rt);
    if (!first_call_done)
        first_call_setup();

    JSValue ret = JS_Call(ctx, export_fns[idx], JS_UNDEFINED, 0, NULL);
    if (JS_IsException(ret)) {
        JSValue exc = JS_GetException(ctx);
        report_exception(exc);
        JS_FreeValue(ctx, exc);
        drain_jobs();
        return 1;
    }
    if (drain_jobs() < 0) {
        JSValue exc = JS_GetException(ctx);
        report_exception(exc);
        JS_FreeValue(ctx, exc);
        JS_FreeValue(ctx, ret);
        return 1;
    }
    int status = 0;
    if (JS_IsObject(ret) && JS_PromiseState(ctx, ret) == JS_PROMISE_REJECTED) {
        JSValue reason = JS_PromiseResult(ctx, ret);
        report_exception(reason);
        JS_FreeValue(ctx, reason);
        status = 1;
    } else if (JS_IsObject(ret) && JS_PromiseState(ctx, ret) == JS_PROMISE_PENDING) {
        const char *msg = "export returned a promise that never settled (no event loop between calls)";
        set_error_text(msg, strlen(msg));
        status = 1;
    }
    JS_FreeValue(ctx, ret);
    return status;
}

int32_t extjs_call_export(int idx) {
    in_export = 1;
    output_set_in_call = 0;
    int32_t status = run_export(idx);
    in_export = 0;
    return status;
}

/*
 * Build-time compiler: JavaScript source -> QuickJS bytecode for the wasm
 * runtime. Built natively from the same patched QuickJS sources with the same
 * configuration as the wasm engine (no Atomics), so the atom table and the
 * bytecode format match.
 *
 * usage: compile IN.js OUT.bin [--strip-debug]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "quickjs.h"

static char *read_file(const char *path, size_t *plen) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *plen = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s IN.js OUT.bin [--strip-debug]\n", argv[0]);
        return 2;
    }
    size_t len;
    char *src = read_file(argv[1], &len);
    if (!src) {
        perror(argv[1]);
        return 1;
    }
    JSRuntime *rt = JS_NewRuntime();
    JS_SetStripInfo(rt, argc > 3 && strcmp(argv[3], "--strip-debug") == 0 ? JS_STRIP_DEBUG : JS_STRIP_SOURCE);
    JSContext *ctx = JS_NewContext(rt);
    JSValue fn = JS_Eval(ctx, src, len, "plugin.js", JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(fn)) {
        JSValue exc = JS_GetException(ctx);
        const char *msg = JS_ToCString(ctx, exc);
        JSValue stack = JS_GetPropertyStr(ctx, exc, "stack");
        const char *st = JS_ToCString(ctx, stack);
        fprintf(stderr, "compile error: %s\n%s\n", msg ? msg : "?", st ? st : "");
        return 1;
    }
    size_t out_len;
    uint8_t *out = JS_WriteObject(ctx, &out_len, fn, JS_WRITE_OBJ_BYTECODE);
    if (!out) {
        fprintf(stderr, "could not serialise the bytecode\n");
        return 1;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(out, 1, out_len, f) != out_len) {
        perror(argv[2]);
        return 1;
    }
    fclose(f);
    return 0;
}

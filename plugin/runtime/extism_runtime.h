/*
 * Interface between the generated per-plugin table (gen.c, written by
 * scripts/build/generate.mjs) and the QuickJS Extism runtime (extism_runtime.c).
 *
 * gen.c defines the plugin's program text, the export names (one wasm export
 * per name, each calling extjs_call_export with its index) and the host
 * functions the program uses (one `extism:host/user` import per name).
 */
#ifndef EXTISM_RUNTIME_H
#define EXTISM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* Program: QuickJS bytecode of the js-pdk prelude followed by the bundle. Not
 * const, so the runtime can zero it after evaluation and the pre-initialised
 * snapshot does not carry a second copy. */
extern char extjs_program[];
extern const size_t extjs_program_len;

extern const char *const extjs_export_names[];
extern const int extjs_export_count;

extern const char *const extjs_host_names[];
extern const int extjs_host_count;

/* Calls host function `idx` (index into extjs_host_names) with an Extism
 * memory offset and returns the offset of its output. */
uint64_t extjs_call_host(int idx, uint64_t input_offset);

/* Runs export `idx`; returns 0 on success, 1 after setting the Extism error. */
int32_t extjs_call_export(int idx);

/* Called first by every export wrapper (stack.s): recovers from a call that a
 * trap aborted, then moves the stack pointer to the top of the stack. The
 * wrapper must have no stack frame of its own. */
void extjs_enter(void);

#endif

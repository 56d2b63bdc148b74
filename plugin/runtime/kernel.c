/*
 * An Extism kernel: the `extism:host/env` memory functions a native Extism
 * host (the Rust SDK on wasmtime, the Go SDK) links a plugin against, as a
 * wasm module with its own memory. The `kernel` engine of the Node host
 * (host-harness/src/engines/kernel-engine.ts) instantiates it next to the
 * plugin, so the plugin's kernel imports are direct wasm-to-wasm calls.
 *
 * It keeps the real kernel's contract (extism/extism kernel/src/lib.rs), which
 * is what the plugin must work with on the desktop:
 * - offset 0 is the empty value: alloc(0) = 0, length(0) = 0, free(0) and
 *   error_set(0) are allowed; output_set(0, 0) is ignored;
 * - length of an offset that is not a live block (unknown, or freed) is 0;
 * - blocks are handed out by a bump allocator; when the bump region is full,
 *   freed blocks that are large enough are reused (split when much larger)
 *   before the memory grows; alloc answers 0 when the memory cannot grow;
 * - input, output and error are slots holding a block's offset (and length);
 * - reset forgets every block and clears the slots (the host calls it before
 *   each call, then stores the input and calls input_set);
 * - load/store out of the memory and input loads past the input read 0 and
 *   write nothing (the kernel's `bounds-checking` feature, on by default).
 *
 * One difference in representation: each block header carries a check word
 * derived from its offset and the reset generation, so `length` and `free`
 * verify a handle in constant time instead of walking every block (the real
 * kernel walks). Built with clang for wasm32, no libc.
 */
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(#name)))

#define PAGE 65536u
#define STATUS_ACTIVE 1u
#define STATUS_FREE 2u
/* Splitting a reused free block only pays when the rest is this large. */
#define SPLIT_MIN 128u

typedef struct {
    uint32_t status;
    uint32_t check;
    uint64_t size; /* capacity of the data area */
    uint64_t used; /* bytes asked for: what length() answers */
} Block;

typedef struct {
    uint64_t position;   /* end of the last block, relative to BLOCKS */
    uint64_t generation; /* incremented by reset: old handles stop verifying */
    uint64_t error;
    uint64_t input_offset;
    uint64_t input_length;
    uint64_t output_offset;
    uint64_t output_length;
} Root;

/* The root and the blocks live above what the linker placed in memory (its
 * stack and data), so no offset is ever 0. */
extern unsigned char __heap_base;
#define BASE ((((uint64_t)(uintptr_t)&__heap_base) + 63) & ~63ull)
#define ROOT ((Root *)(uintptr_t)BASE)
#define BLOCKS (BASE + 64)
#define HDR ((uint64_t)sizeof(Block))

static uint64_t mem_bytes(void) {
    return (uint64_t)__builtin_wasm_memory_size(0) * PAGE;
}

static uint32_t check_word(uint64_t data_offset) {
    uint64_t x = (data_offset ^ (ROOT->generation * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return (uint32_t)(x >> 32) | 1u;
}

static Block *header(uint64_t data_offset) {
    return (Block *)(uintptr_t)(data_offset - HDR);
}

/* The block whose data starts at p, if p is a live (active) handle. */
static Block *live_block(uint64_t p) {
    if (p < BLOCKS + HDR || p > BLOCKS + ROOT->position || (p & 7) != 0)
        return 0;
    Block *b = header(p);
    if (b->status != STATUS_ACTIVE || b->check != check_word(p))
        return 0;
    return b;
}

static void init_block(Block *b, uint64_t size, uint64_t used, uint32_t status) {
    uint64_t data = (uint64_t)(uintptr_t)b + HDR;
    b->status = status;
    b->check = check_word(data);
    b->size = size;
    b->used = used;
}

/* First freed block that holds `size` bytes, split when much larger. */
static Block *reuse_free_block(uint64_t size) {
    uint64_t p = BLOCKS, end = BLOCKS + ROOT->position;
    while (p < end) {
        Block *b = (Block *)(uintptr_t)p;
        if (b->status == STATUS_FREE && b->size >= size) {
            if (b->size - size >= SPLIT_MIN + HDR) {
                /* keep the front free, hand out the tail */
                uint64_t rest = b->size - size - HDR;
                b->size = rest;
                Block *tail = (Block *)(uintptr_t)(p + HDR + rest);
                init_block(tail, size, 0, STATUS_FREE);
                return tail;
            }
            return b;
        }
        p += HDR + b->size;
    }
    return 0;
}

EXPORT(alloc) uint64_t k_alloc(uint64_t n) {
    if (n == 0)
        return 0;
    if (n > 0xffffffffull)
        return 0;
    uint64_t size = (n + 7) & ~7ull;
    uint64_t at = BLOCKS + ROOT->position;
    if (at + HDR + size > mem_bytes()) {
        Block *b = reuse_free_block(size);
        if (b) {
            b->status = STATUS_ACTIVE;
            b->check = check_word((uint64_t)(uintptr_t)b + HDR);
            b->used = n;
            return (uint64_t)(uintptr_t)b + HDR;
        }
        uint64_t need = at + HDR + size - mem_bytes();
        uint64_t pages = (need + PAGE - 1) / PAGE;
        if (__builtin_wasm_memory_grow(0, (unsigned long)pages) == (unsigned long)-1)
            return 0;
    }
    Block *b = (Block *)(uintptr_t)at;
    init_block(b, size, n, STATUS_ACTIVE);
    ROOT->position += HDR + size;
    return at + HDR;
}

EXPORT(free) void k_free(uint64_t p) {
    Block *b = live_block(p);
    if (!b)
        return;
    b->status = STATUS_FREE;
    /* the input's bytes are gone */
    if (p == ROOT->input_offset)
        ROOT->input_length = 0;
}

EXPORT(length) uint64_t k_length(uint64_t p) {
    Block *b = live_block(p);
    return b ? b->used : 0;
}

EXPORT(length_unsafe) uint64_t k_length_unsafe(uint64_t p) {
    return k_length(p);
}

static int in_memory(uint64_t p, uint64_t n) {
    return p >= BLOCKS && p + n <= mem_bytes();
}

EXPORT(load_u8) uint32_t k_load_u8(uint64_t p) {
    return in_memory(p, 1) ? *(uint8_t *)(uintptr_t)p : 0;
}

EXPORT(load_u64) uint64_t k_load_u64(uint64_t p) {
    if (!in_memory(p, 8))
        return 0;
    uint64_t v;
    __builtin_memcpy(&v, (void *)(uintptr_t)p, 8);
    return v;
}

EXPORT(store_u8) void k_store_u8(uint64_t p, uint32_t v) {
    if (in_memory(p, 1))
        *(uint8_t *)(uintptr_t)p = (uint8_t)v;
}

EXPORT(store_u64) void k_store_u64(uint64_t p, uint64_t v) {
    if (in_memory(p, 8))
        __builtin_memcpy((void *)(uintptr_t)p, &v, 8);
}

EXPORT(input_load_u8) uint32_t k_input_load_u8(uint64_t off) {
    if (off >= ROOT->input_length)
        return 0;
    return *(uint8_t *)(uintptr_t)(ROOT->input_offset + off);
}

EXPORT(input_load_u64) uint64_t k_input_load_u64(uint64_t off) {
    if (off + 8 > ROOT->input_length)
        return 0;
    uint64_t v;
    __builtin_memcpy(&v, (void *)(uintptr_t)(ROOT->input_offset + off), 8);
    return v;
}

/* A range the slots may point at: inside the allocated blocks. */
static int in_blocks(uint64_t p, uint64_t len) {
    uint64_t end = BLOCKS + ROOT->position;
    return p >= BLOCKS && p <= end && len <= end - p;
}

EXPORT(input_set) void k_input_set(uint64_t p, uint64_t len) {
    if (!in_blocks(p, len))
        return;
    ROOT->input_offset = p;
    ROOT->input_length = len;
}

EXPORT(output_set) void k_output_set(uint64_t p, uint64_t len) {
    if (!in_blocks(p, len))
        return;
    ROOT->output_offset = p;
    ROOT->output_length = len;
}

EXPORT(input_length) uint64_t k_input_length(void) { return ROOT->input_length; }
EXPORT(input_offset) uint64_t k_input_offset(void) { return ROOT->input_offset; }
EXPORT(output_length) uint64_t k_output_length(void) { return ROOT->output_length; }
EXPORT(output_offset) uint64_t k_output_offset(void) { return ROOT->output_offset; }

EXPORT(error_set) void k_error_set(uint64_t p) {
    if (p != 0 && !in_blocks(p, 1))
        return;
    ROOT->error = p;
}

EXPORT(error_get) uint64_t k_error_get(void) { return ROOT->error; }

EXPORT(reset) void k_reset(void) {
    ROOT->position = 0;
    ROOT->generation++;
    ROOT->error = 0;
    ROOT->input_offset = 0;
    ROOT->input_length = 0;
    ROOT->output_offset = 0;
    ROOT->output_length = 0;
}

/* Bytes the allocator may use without growing the memory. */
EXPORT(memory_bytes) uint64_t k_memory_bytes(void) {
    return mem_bytes() - BLOCKS;
}

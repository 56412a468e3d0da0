/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer harnesses (tests/fuzz/, docs/testing.md "Fuzzing"): reading a
 * structured input byte by byte, and reporting a finding. A finding aborts, so libFuzzer saves
 * the input as a crash artifact like any sanitizer report. */
#ifndef CWLUA_TESTS_FUZZ_FUZZ_H
#define CWLUA_TESTS_FUZZ_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a stream: reads past its end give zeros, so every input is a valid script. */
typedef struct fz {
    const uint8_t *p;
    size_t n, at;
} fz;

static inline int fz_more(const fz *f)
{
    return f->at < f->n;
}

static inline uint8_t fz_u8(fz *f)
{
    return f->at < f->n ? f->p[f->at++] : 0;
}

static inline uint16_t fz_u16(fz *f) /* little-endian, as the engines' payloads */
{
    uint16_t lo = fz_u8(f);
    return (uint16_t)(lo | (uint16_t)fz_u8(f) << 8);
}

static inline uint32_t fz_u32(fz *f)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)fz_u8(f) << (8 * i);
    return v;
}

/* Up to n bytes into out; returns how many there were. */
static inline size_t fz_bytes(fz *f, uint8_t *out, size_t n)
{
    size_t k = 0;
    while (k < n && f->at < f->n)
        out[k++] = f->p[f->at++];
    return k;
}

/* FUZZ_TRACE=1 in the environment: the harness tells what it does (seeds, findings). */
__attribute__((format(printf, 1, 2))) static inline void fz_trace(const char *fmt, ...)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_TRACE") != NULL;
    if (!on)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* A finding: print it and abort (libFuzzer then writes the input to its crash file). */
__attribute__((noreturn, format(printf, 1, 2))) static inline void fz_finding(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FINDING: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

#endif

/* SPDX-License-Identifier: MIT */
/* Running out of memory while a simulated board is opened (transport/cw_sim.c over libcwsim)
 * is reported as CW_E_NO_MEMORY, "no_memory" to Lua, which cwlua reports as "cwlua: out of
 * memory", exit 1 (contract.md §3.8) — never as a bad argument (exit 2) or a board problem
 * (exit 3). The program is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so
 * every allocation of libcwsim and the transport goes through the wrappers below, which fail
 * the k-th one; each k in turn, until an open makes fewer allocations than k. No sanitizer
 * needs to stand aside: the real allocator serves every other allocation. */
#include "check.h"
#include "cw_sim.h"

#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long countdown = -1; /* allocations left before the one that fails; < 0: none fails */

static int fail_now(void)
{
    if (countdown < 0)
        return 0;
    return countdown-- == 0;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

/* Open board/part with the k-th allocation failing, for every k; returns the number of
 * allocations a good open makes. */
static long sweep(const char *board, const char *part, const char *state)
{
    cw_sim_opts o;
    memset(&o, 0, sizeof o);
    o.board = board;
    o.target = part;
    o.state_dir = state;
    o.usb_latency_ms = -1;
    o.noise = -1;
    o.seed = 1;
    for (long k = 0; k < 100000; k++) {
        cw_dev *dev = NULL;
        cw_err err;
        memset(&err, 0, sizeof err);
        countdown = k;
        int rc = cw_sim_open(&dev, &o, &err);
        int failed_one = countdown < 0; /* the k-th allocation was made, and failed */
        countdown = -1;
        if (rc == CW_OK) {
            cw_dev_close(dev);
            if (!failed_one)
                return k; /* fewer than k+1 allocations: every one has failed once */
            continue;     /* a failure it could live with (none today, but allowed) */
        }
        if (err.code != CW_E_NO_MEMORY || strstr(err.msg, "out of memory") == NULL)
            fprintf(stderr, "%s %s, allocation %ld failing: code %d, '%s'\n", board, part, k,
                    (int)err.code, err.msg);
        CHECK_EQ_INT(err.code, CW_E_NO_MEMORY);
        CHECK(strstr(err.msg, "out of memory") != NULL);
    }
    CHECK(!"an open that never stops allocating");
    return -1;
}

int main(void)
{
    char dir[] = "/tmp/cwlua-oom-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    static const char *const cases[][2] = {
        {"cwlite", "stm32f100xb"}, {"cwlite", "atxmega128d4"}, {"cwlite", "atmega328p"},
        {"husky", "stm32f415xg"},  {"nano", "stm32f030x6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long n = sweep(cases[i][0], cases[i][1], dir);
        CHECK(n > 0);
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("sim_oom");
}

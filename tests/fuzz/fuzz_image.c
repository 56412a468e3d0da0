/* SPDX-License-Identifier: MIT */
/* fuzz_image_{hex,elf,bin}: the firmware image loaders (cwlua.image and cwlua.image.{hex,elf})
 * through the Lua code the cwlua binary runs, the scripts embedded the same way. The input is a
 * file's contents; image_check.lua parses it from memory (image.parse, which image.load uses
 * for a path) with the format this binary was built for and says what is wrong, if anything:
 *  - a failure must be a cwlua error object of kind "input" whose message is one printable
 *    line naming the file (contract.md §3: bad input exits 2 with one line); a plain error
 *    string ("attempt to index a nil value"), a memory error or a crash is a finding;
 *  - a loaded image must be well formed and survive what the programming code does with it.
 * While image.parse runs, the Lua heap is bounded (16 MiB plus 64 bytes per input byte more
 * than before, contract.md §3's "memory O(file size)"), so a loader that blows up on a small
 * file is a finding too; the checks afterwards run unbounded (image_check.lua turns the bound
 * on and off through the global fuzz_heap).
 *
 * Coverage: Debian's liblua5.4 is not instrumented, so libFuzzer would see nothing of the Lua
 * code. A line hook feeds it instead: each (previous line, line) pair of the scripts bumps a
 * counter in libFuzzer's extra-counters section, which it treats as coverage. */
#include "embedded.h"
#include "fuzz.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_IMAGE_FORMAT
#error "build with -DFUZZ_IMAGE_FORMAT=\"hex\" (or elf, bin)"
#endif

/* ---- Lua coverage for libFuzzer ------------------------------------------------------------ */

#define COV_BITS 16
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_cov[1u << COV_BITS];
static uintptr_t cov_prev;

static void line_hook(lua_State *L, lua_Debug *ar)
{
    if (lua_getinfo(L, "S", ar) == 0)
        return;
    /* the source string of a loaded chunk stays put while its functions live (all run) */
    uintptr_t here = (uintptr_t)ar->source * 31u + (uintptr_t)ar->currentline;
    uintptr_t edge = (here ^ (cov_prev >> 1)) * 0x9E3779B97F4A7C15ull;
    cov_prev = here;
    uint8_t *c = &lua_cov[(edge >> (64 - COV_BITS)) & ((1u << COV_BITS) - 1u)];
    if (*c != 0xFF)
        (*c)++;
}

/* ---- a Lua heap with a limit ---------------------------------------------------------------- */

static size_t heap_used, heap_limit = SIZE_MAX, heap_allowance;

static void *bounded_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    size_t old = ptr != NULL ? osize : 0; /* for a new block osize is its type, not a size */
    if (nsize == 0) {
        free(ptr);
        heap_used -= old;
        return NULL;
    }
    if (nsize > old && heap_used - old + nsize > heap_limit)
        return NULL; /* Lua raises its memory error */
    void *q = realloc(ptr, nsize);
    if (q == NULL)
        return NULL;
    heap_used = heap_used - old + nsize;
    return q;
}

/* fuzz_heap(true): bound the heap from now on for this input; fuzz_heap(false): unbounded. */
static int l_fuzz_heap(lua_State *L)
{
    heap_limit = lua_toboolean(L, 1) ? heap_used + heap_allowance : SIZE_MAX;
    return 0;
}

/* ---- the embedded scripts as modules -------------------------------------------------------- */

static int load_embedded(lua_State *L)
{
    const cw_embedded *e = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbufferx(L, e->source, e->len, e->chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, e->name);
    lua_call(L, 1, 1);
    return 1;
}

static lua_State *setup(int *check_ref)
{
    lua_State *L = lua_newstate(bounded_alloc, NULL);
    if (L == NULL)
        fz_finding("cannot create a Lua state");
    luaL_openlibs(L);
    /* package.preload[name] = the embedded module: require() finds them before any file */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (const cw_embedded *e = cw_embedded_scripts; e->name != NULL; e++) {
        lua_pushlightuserdata(L, (void *)(uintptr_t)e);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, e->name);
    }
    lua_pop(L, 2);
    lua_register(L, "fuzz_heap", l_fuzz_heap);
    /* the check: image_check.lua returns a function of the format that returns the checker */
    if (luaL_loadfilex(L, FUZZ_IMAGE_CHECK, "t") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_image: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_pushstring(L, FUZZ_IMAGE_FORMAT);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_image: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    *check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    return L;
}

/* Live-heap allowance for one input (see the header comment). */
#define HEAP_BASE     (16u << 20)
#define HEAP_PER_BYTE 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    static int check_ref;
    if (L == NULL)
        L = setup(&check_ref);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    cov_prev = 0;
    heap_allowance = HEAP_BASE + HEAP_PER_BYTE * size;
    lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
    lua_pushlstring(L, (const char *)data, size);
    int status = lua_pcall(L, 1, 1, 0);
    heap_limit = SIZE_MAX;
    if (status == LUA_ERRMEM)
        fz_finding("%s: more than %zu bytes of Lua heap for a %zu-byte input", FUZZ_IMAGE_FORMAT,
                   (size_t)(HEAP_BASE + HEAP_PER_BYTE * size), size);
    if (status != LUA_OK)
        fz_finding("%s: the check failed: %s", FUZZ_IMAGE_FORMAT, luaL_tolstring(L, -1, NULL));
    if (!lua_isnil(L, -1))
        fz_finding("%s", lua_tostring(L, -1)); /* it names the format and the entry point */
    return 0;
}

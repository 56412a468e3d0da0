/* SPDX-License-Identifier: MIT */
/* cwlua.core.trace: one captured power trace as a compact userdata (two bytes a sample), made
 * from the OpenADC's read-out at C speed. cwlua.scope (scripts/cwlua/scope.lua) talks to the
 * board; this file only turns bytes into samples and samples into a .npy row. The read-out
 * formats (cw-usb-protocol.md §4.10; NewAE's processData and processHuskyData, read for facts):
 *  - "cw10" (CW-Lite, CW1200): a sync byte 0xAC, then 32-bit big-endian words, each holding
 *    three 10-bit samples in bits 9:0, 19:10 and 29:20, in that order, and in bits 31:30 the
 *    trigger mark: 3 = none of the three, 0-2 = which of them was taken at the trigger;
 *  - "husky12": two 12-bit samples in three bytes, big-endian (the first sample is byte 0 and
 *    the high nibble of byte 1, the second the low nibble of byte 1 and byte 2);
 *  - "husky8": one byte a sample.
 *
 *   trace.unpack(format, data, samples [, presamples]) -> trace | nil, msg, code
 *       At most `samples` samples. The read-out of a CW-Lite/Pro begins with samples from
 *       before the trigger (its FIFO fills from the moment it is armed) and marks the word
 *       of the capture's first sample: the one taken OFFSET ADC clocks after the trigger.
 *       "cw10": as NewAE's processData, the trace starts `presamples` samples before that
 *       marked sample (when there are that many before it), and trigger_index() is the
 *       marked sample's place in it; nil when no word carries a mark. The Husky's formats
 *       carry no mark: its FIFO holds exactly `presamples` samples before the capture's first,
 *       so trigger_index() is presamples + 1. code "malformed": no sync byte, or not one whole
 *       sample.
 *   trace.new(codes, bits [, trigger_index]) -> trace     codes: a list of integer codes
 *   #t                -> the number of samples
 *   t[i]              -> sample i (1-based) as code / 2^bits - 0.5, in [-0.5, 0.5): the scaling
 *                        of NewAE's get_last_trace(); nil outside 1..#t
 *   t:raw([i])        -> the integer code of sample i (nil outside 1..#t), or all as a list
 *   t:values()        -> every sample as t[i] gives it, as a list
 *   t:f32()           -> the samples as little-endian IEEE-754 float32 bytes (a .npy row)
 *   t:bits()          -> 10, 12 or 8: the read-out's resolution
 *   t:trigger_index() -> the 1-based index of the capture's first sample (OFFSET ADC clocks
 *                        after the trigger) | nil
 *
 * Misuse (wrong types, an unknown format, a code out of range) raises; bytes that cannot be a
 * read-out return nil, msg, "malformed" (style.md §2.3). */
#include "l_trace.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CW_TRACE "cwlua.Trace" /* metatable name, becomes __name */

/* The most samples a trace holds: far above any board's capture depth (a Husky's is 131 070,
 * cw-usb-protocol.md §4.0), low enough that the size computations cannot overflow. */
#define MAX_SAMPLES ((lua_Integer)1 << 24)

#define CW_SYNC 0xACu /* the first byte of a CW-Lite/Pro read-out */

typedef struct l_trace {
    size_t n;
    lua_Integer trigger; /* 1-based; 0: no sample was taken at the trigger */
    int bits;
    uint16_t code[]; /* n codes, each below 2^bits */
} l_trace;

static l_trace *totrace(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, CW_TRACE);
}

/* A new trace of n samples on the stack, codes zeroed. */
static l_trace *newtrace(lua_State *L, size_t n, int bits, lua_Integer trigger)
{
    l_trace *t = lua_newuserdatauv(L, sizeof(l_trace) + n * sizeof(uint16_t), 0);
    t->n = n;
    t->bits = bits;
    t->trigger = trigger;
    memset(t->code, 0, n * sizeof(uint16_t));
    luaL_setmetatable(L, CW_TRACE);
    return t;
}

static int fail(lua_State *L, const char *msg, const char *code)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, code);
    return 3;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Sample k of a "cw10" read-out whose words start at w. */
static uint16_t cw10_sample(const unsigned char *w, size_t k)
{
    uint32_t word = be32(w + 4 * (k / 3));
    return (uint16_t)((word >> (10 * (k % 3))) & 0x3FFu);
}

static int unpack_cw10(lua_State *L, const unsigned char *d, size_t len, size_t samples, size_t pre)
{
    if (len < 1 || d[0] != CW_SYNC) {
        if (len < 1)
            return fail(L, "the ADC read-out is empty", "malformed");
        char msg[64];
        snprintf(msg, sizeof msg, "the ADC read-out starts with 0x%02X, not the sync byte 0xAC",
                 (unsigned)d[0]);
        return fail(L, msg, "malformed");
    }
    const unsigned char *w = d + 1;
    size_t words = (len - 1) / 4, avail = 3 * words;
    size_t trig = SIZE_MAX;
    for (size_t i = 0; i < words && trig == SIZE_MAX; i++) {
        uint32_t mark = be32(w + 4 * i) >> 30;
        if (mark != 3)
            trig = 3 * i + mark;
    }
    size_t start = (trig != SIZE_MAX && trig >= pre) ? trig - pre : 0;
    size_t n = avail - start < samples ? avail - start : samples;
    if (n == 0)
        return fail(L, "the ADC read-out holds no whole sample", "malformed");
    lua_Integer ti = 0;
    if (trig != SIZE_MAX && trig >= start && trig - start < n)
        ti = (lua_Integer)(trig - start) + 1;
    l_trace *t = newtrace(L, n, 10, ti);
    for (size_t i = 0; i < n; i++)
        t->code[i] = cw10_sample(w, start + i);
    return 1;
}

static int unpack_husky(lua_State *L, const unsigned char *d, size_t len, size_t samples,
                        size_t pre, int bits)
{
    size_t avail = bits == 12 ? 2 * (len / 3) : len;
    size_t n = avail < samples ? avail : samples;
    if (n == 0)
        return fail(L, "the ADC read-out holds no whole sample", "malformed");
    lua_Integer ti = pre < n ? (lua_Integer)pre + 1 : 0;
    l_trace *t = newtrace(L, n, bits, ti);
    if (bits == 8) {
        for (size_t i = 0; i < n; i++)
            t->code[i] = d[i];
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *g = d + 3 * (i / 2);
        t->code[i] = (uint16_t)(i % 2 == 0 ? (unsigned)g[0] << 4 | (unsigned)g[1] >> 4
                                           : ((unsigned)g[1] & 0x0Fu) << 8 | (unsigned)g[2]);
    }
    return 1;
}

/* trace.unpack(format, data, samples [, presamples]) -> trace | nil, msg, code */
static int l_unpack(lua_State *L)
{
    static const char *const formats[] = {"cw10", "husky12", "husky8", NULL};
    int fmt = luaL_checkoption(L, 1, NULL, formats);
    size_t len;
    const unsigned char *d = (const unsigned char *)luaL_checklstring(L, 2, &len);
    lua_Integer samples = luaL_checkinteger(L, 3);
    luaL_argcheck(L, samples >= 1 && samples <= MAX_SAMPLES, 3, "samples out of range");
    lua_Integer pre = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, pre >= 0 && pre <= MAX_SAMPLES, 4, "presamples out of range");
    if (fmt == 0)
        return unpack_cw10(L, d, len, (size_t)samples, (size_t)pre);
    return unpack_husky(L, d, len, (size_t)samples, (size_t)pre, fmt == 1 ? 12 : 8);
}

/* trace.new(codes, bits [, trigger_index]) -> trace */
static int l_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer bits = luaL_checkinteger(L, 2);
    luaL_argcheck(L, bits == 8 || bits == 10 || bits == 12, 2, "bits must be 8, 10 or 12");
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 0 && n <= MAX_SAMPLES, 1, "too many samples");
    lua_Integer trig = 0;
    if (!lua_isnoneornil(L, 3)) {
        trig = luaL_checkinteger(L, 3);
        luaL_argcheck(L, trig >= 1 && trig <= n, 3, "trigger_index out of range");
    }
    l_trace *t = newtrace(L, (size_t)n, (int)bits, trig); /* [codes, bits, ?, trace] */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        int isnum;
        lua_Integer c = lua_tointegerx(L, -1, &isnum);
        if (!isnum || c < 0 || c >= ((lua_Integer)1 << bits))
            return luaL_error(L, "trace.new: code %d is not an integer from 0 to %d", (int)i,
                              (1 << bits) - 1);
        t->code[i - 1] = (uint16_t)c;
        lua_pop(L, 1);
    }
    return 1;
}

static double value_of(const l_trace *t, size_t i)
{
    return (double)t->code[i] / (double)(1u << t->bits) - 0.5;
}

/* #t */
static int t_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)totrace(L, 1)->n);
    return 1;
}

/* t[i] -> sample i | nil; t.name -> the method */
static int t_index(lua_State *L)
{
    l_trace *t = totrace(L, 1);
    int isnum;
    lua_Integer i = lua_tointegerx(L, 2, &isnum);
    if (isnum && lua_type(L, 2) == LUA_TNUMBER) {
        if (i >= 1 && (lua_Unsigned)i <= t->n)
            lua_pushnumber(L, value_of(t, (size_t)(i - 1)));
        else
            lua_pushnil(L);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_gettable(L, lua_upvalueindex(1)); /* the methods table */
    return 1;
}

/* t:raw([i]) -> code | nil | { codes } */
static int t_raw(lua_State *L)
{
    l_trace *t = totrace(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        lua_Integer i = luaL_checkinteger(L, 2);
        if (i >= 1 && (lua_Unsigned)i <= t->n)
            lua_pushinteger(L, t->code[i - 1]);
        else
            lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, t->n > INT32_MAX ? 0 : (int)t->n, 0);
    for (size_t i = 0; i < t->n; i++) {
        lua_pushinteger(L, t->code[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* t:values() -> { numbers } */
static int t_values(lua_State *L)
{
    l_trace *t = totrace(L, 1);
    lua_createtable(L, t->n > INT32_MAX ? 0 : (int)t->n, 0);
    for (size_t i = 0; i < t->n; i++) {
        lua_pushnumber(L, value_of(t, i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* t:f32() -> bytes: each sample as a little-endian float32. code / 2^bits - 0.5 is exact in a
 * float32 (at most 12 significant bits), so the row holds exactly what t[i] gives. */
static int t_f32(lua_State *L)
{
    l_trace *t = totrace(L, 1);
    luaL_Buffer b;
    unsigned char *p = (unsigned char *)luaL_buffinitsize(L, &b, 4 * t->n);
    float scale = (float)(1u << t->bits);
    for (size_t i = 0; i < t->n; i++) {
        float v = (float)t->code[i] / scale - 0.5f;
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        p[4 * i] = (unsigned char)u;
        p[4 * i + 1] = (unsigned char)(u >> 8);
        p[4 * i + 2] = (unsigned char)(u >> 16);
        p[4 * i + 3] = (unsigned char)(u >> 24);
    }
    luaL_pushresultsize(&b, 4 * t->n);
    return 1;
}

/* t:bits() -> 8, 10 or 12 */
static int t_bits(lua_State *L)
{
    lua_pushinteger(L, totrace(L, 1)->bits);
    return 1;
}

/* t:trigger_index() -> index | nil */
static int t_trigger_index(lua_State *L)
{
    l_trace *t = totrace(L, 1);
    if (t->trigger > 0)
        lua_pushinteger(L, t->trigger);
    else
        lua_pushnil(L);
    return 1;
}

static int t_tostring(lua_State *L)
{
    l_trace *t = totrace(L, 1);
    lua_pushfstring(L, "cwlua.Trace (%I samples, %d-bit)", (lua_Integer)t->n, t->bits);
    return 1;
}

int luaopen_cwlua_core_trace(lua_State *L)
{
    /* clang-format off */
    static const luaL_Reg funcs[] = {
        {"unpack", l_unpack},
        {"new", l_new},
        {NULL, NULL},
    };
    static const luaL_Reg methods[] = {
        {"raw", t_raw},
        {"values", t_values},
        {"f32", t_f32},
        {"bits", t_bits},
        {"trigger_index", t_trigger_index},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__len", t_len},
        {"__tostring", t_tostring},
        {"__index", NULL}, /* placeholder, set below */
        {NULL, NULL},
    };
    /* clang-format on */
    luaL_newmetatable(L, CW_TRACE); /* [mt] */
    luaL_setfuncs(L, meta, 0);
    luaL_newlibtable(L, methods); /* [mt, methods] */
    luaL_setfuncs(L, methods, 0);
    lua_pushcclosure(L, t_index, 1); /* [mt, __index] with the methods as its upvalue */
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}

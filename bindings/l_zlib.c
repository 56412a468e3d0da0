/* SPDX-License-Identifier: MIT */
/* cwlua.core.zlib: the two pieces of zlib that cwlua.bitstream needs to read NewAE's firmware
 * zip (cw-usb-protocol.md §3.1) at C speed: raw deflate (RFC 1951; zip's compression method 8,
 * PKWARE APPNOTE 4.4.5) and zip's CRC-32. The zip reader itself stays in Lua
 * (scripts/cwlua/bitstream.lua); zlib's API is described in its zlib.h.
 *
 *   zlib.inflate_raw(data, expected_len) -> string | nil, msg, code
 *       data: one raw deflate stream (no zlib or gzip header); bytes after its last block are
 *       ignored. The result holds at most expected_len bytes: inflating stops as soon as the
 *       output would grow past it, so a zip bomb costs no more memory than the size its zip
 *       entry declares. A shorter result is returned as it is; the caller compares.
 *       code "invalid": corrupt or truncated data ("corrupt deflate data (<reason>)");
 *       "overflow": more than expected_len bytes; "no_memory": zlib ran out of memory.
 *   zlib.crc32(data [, crc]) -> integer
 *       CRC-32 as zip and gzip use it (ISO-HDLC); crc: the CRC of what came before, to run
 *       one CRC over several pieces (default 0, the CRC of nothing).
 *
 * Misuse (wrong types, a negative length, a CRC that is not 32-bit) raises; bad data returns
 * nil, msg, code (style.md §2.3). */
#define ZLIB_CONST /* next_in points to const bytes, so Lua's string needs no cast */

#include "l_zlib.h"

#include "cw_transport.h"
#include "l_util.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define CW_ZLIB_INFLATE "cwlua.zlib.Inflate" /* metatable of the stream's guard */

/* windowBits for inflateInit2: negative means raw deflate (no header, no trailer), 15 is the
 * 32 KiB window, the largest a deflate stream may use (RFC 1951 §2; zlib.h). */
#define RAW_DEFLATE (-15)
/* Output asked of zlib in the first step; later steps ask for as much as is already there,
 * so the buffer doubles instead of growing a little at a time. */
#define FIRST_STEP ((size_t)256 << 10)

/* zlib's state lives in a userdata so that a memory error raised while the output grows
 * still ends in inflateEnd() (__gc), never in a leak (style.md §2.1). */
typedef struct l_inflate {
    z_stream z;
    int live; /* inflateInit2 succeeded and inflateEnd has not run */
} l_inflate;

static void inflate_end(l_inflate *s)
{
    if (s->live) {
        (void)inflateEnd(&s->z); /* only fails for a stream that was never started */
        s->live = 0;
    }
}

static int inflate_gc(lua_State *L)
{
    inflate_end(luaL_checkudata(L, 1, CW_ZLIB_INFLATE));
    return 0;
}

/* Give zlib the next piece of the input: avail_in is 32-bit, a Lua string need not be. */
static void feed(z_stream *z, size_t *left)
{
    uInt n = *left > UINT_MAX ? UINT_MAX : (uInt)*left;
    z->avail_in = n;
    *left -= n;
}

/* zlib.inflate_raw(data, expected_len) -> string | nil, msg, code */
static int l_inflate_raw(lua_State *L)
{
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    lua_Integer want = luaL_checkinteger(L, 2);
    luaL_argcheck(L, want >= 0 && (lua_Unsigned)want <= SIZE_MAX / 2, 2,
                  "expected_len must be a size in bytes");
    size_t limit = (size_t)want;

    l_inflate *s = lua_newuserdatauv(L, sizeof *s, 0); /* [guard] */
    memset(s, 0, sizeof *s);                           /* Z_NULL allocators: zlib's own */
    luaL_setmetatable(L, CW_ZLIB_INFLATE);
    cw_err err;
    if (inflateInit2(&s->z, RAW_DEFLATE) != Z_OK) {
        cw_err_set(&err, CW_E_NO_MEMORY, "zlib: not enough memory to start inflating");
        return cwl_pushfail(L, &err);
    }
    s->live = 1;
    s->z.next_in = (const Bytef *)data;
    size_t left = len; /* input not yet handed to zlib */
    feed(&s->z, &left);

    luaL_Buffer b;
    luaL_buffinit(L, &b); /* [guard, buffer?]: the buffer's box comes once it outgrows b */
    size_t total = 0;
    for (;;) {
        if (s->z.avail_in == 0 && left > 0)
            feed(&s->z, &left);
        size_t room = limit - total, step;
        Bytef spill; /* the one byte that would prove the output too long */
        if (room == 0) {
            step = 1;
            s->z.next_out = &spill;
        } else {
            step = total > FIRST_STEP ? total : FIRST_STEP;
            step = step < room ? step : room;
            step = step < UINT_MAX ? step : UINT_MAX;
            s->z.next_out = (Bytef *)luaL_prepbuffsize(&b, step);
        }
        s->z.avail_out = (uInt)step;
        int rc = inflate(&s->z, Z_NO_FLUSH);
        size_t made = step - s->z.avail_out;
        if (room == 0 && made > 0) {
            cw_err_set(&err, CW_E_OVERFLOW,
                       "corrupt deflate data (more than %zu bytes, expected %zu)", limit, limit);
            break;
        }
        if (room > 0)
            luaL_addsize(&b, made);
        total += made;
        if (rc == Z_STREAM_END) {
            luaL_pushresult(&b); /* [guard, result] */
            inflate_end(s);
            return 1;
        }
        if (rc == Z_DATA_ERROR) {
            cw_err_set(&err, CW_E_INVALID, "corrupt deflate data (%s)",
                       s->z.msg != NULL ? s->z.msg : "invalid data");
            break;
        }
        /* Output room was given, so Z_BUF_ERROR means the input ran out before the last block
         * ended. */
        if (rc == Z_BUF_ERROR) {
            cw_err_set(&err, CW_E_INVALID, "corrupt deflate data (truncated)");
            break;
        }
        if (rc == Z_MEM_ERROR) {
            cw_err_set(&err, CW_E_NO_MEMORY, "zlib: not enough memory to inflate");
            break;
        }
        if (rc != Z_OK) /* Z_STREAM_ERROR, Z_NEED_DICT: impossible for a raw stream set up here */
            return luaL_error(L, "zlib: inflate() returned %d", rc);
    }
    inflate_end(s);
    return cwl_pushfail(L, &err); /* the unfinished buffer is left to the collector */
}

/* zlib.crc32(data [, crc]) -> integer */
static int l_crc32(lua_State *L)
{
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    lua_Integer crc = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, crc >= 0 && crc <= 0xFFFFFFFF, 2, "crc must be 0 to 0xFFFFFFFF");
    lua_pushinteger(L, (lua_Integer)crc32_z((uLong)crc, (const Bytef *)data, len));
    return 1;
}

int luaopen_cwlua_core_zlib(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", inflate_gc}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {
        {"inflate_raw", l_inflate_raw}, {"crc32", l_crc32}, {NULL, NULL}};
    return cwl_newclass(L, CW_ZLIB_INFLATE, meta, NULL, funcs);
}

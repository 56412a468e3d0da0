/* SPDX-License-Identifier: MIT */
/* cwlua.core.zlib: raw inflate and CRC-32 through the system's zlib (bindings/l_zlib.c). */
#ifndef CWLUA_BINDINGS_L_ZLIB_H
#define CWLUA_BINDINGS_L_ZLIB_H

#include <lua.h>

int luaopen_cwlua_core_zlib(lua_State *L);

#endif

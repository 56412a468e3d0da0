/* SPDX-License-Identifier: MIT */
/* The C modules cwlua.core.*, registered the same way for both hosts: the cwlua binary
 * (main.c) and another Lua 5.4 interpreter that loads cwlua/core.so (module.c). */
#ifndef CWLUA_RUNTIME_CORE_H
#define CWLUA_RUNTIME_CORE_H

#include <lua.h>

/* package.preload["cwlua.core.NAME"] for runtime, device, signal, serial, tty, zlib and trace.
 * Not readline: libedit is the binary's alone (a host interpreter may have GNU readline loaded,
 * whose symbols have the same names). */
void cw_core_preload(lua_State *L);

/* The module's entry point, require "cwlua.core" from a Lua 5.4 interpreter (module.c). */
int luaopen_cwlua_core(lua_State *L);

#endif

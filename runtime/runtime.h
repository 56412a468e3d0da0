/* SPDX-License-Identifier: MIT */
/* The runtime's own Lua module, cwlua.core.runtime (see runtime.c). */
#ifndef CWLUA_RUNTIME_RUNTIME_H
#define CWLUA_RUNTIME_RUNTIME_H

#include <lua.h>

int luaopen_cwlua_core_runtime(lua_State *L);

#endif

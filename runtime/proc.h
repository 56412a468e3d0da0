/* SPDX-License-Identifier: MIT */
/* cwlua.core.proc: child processes run side by side (see proc.c). */
#ifndef CWLUA_RUNTIME_PROC_H
#define CWLUA_RUNTIME_PROC_H

#include <lua.h>

int luaopen_cwlua_core_proc(lua_State *L);

#endif

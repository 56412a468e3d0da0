/* SPDX-License-Identifier: MIT */
/* cwlua.core.trace: captured power traces from the ADC read-out (bindings/l_trace.c). */
#ifndef CWLUA_BINDINGS_L_TRACE_H
#define CWLUA_BINDINGS_L_TRACE_H

#include <lua.h>

int luaopen_cwlua_core_trace(lua_State *L);

#endif

/* SPDX-License-Identifier: MIT */
/* cwlua.core.readline: line editing and history for 'cwlua shell' (bindings/l_readline.c). */
#ifndef CWLUA_BINDINGS_L_READLINE_H
#define CWLUA_BINDINGS_L_READLINE_H

#include <lua.h>

int luaopen_cwlua_core_readline(lua_State *L);

#endif

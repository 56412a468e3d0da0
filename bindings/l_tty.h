/* SPDX-License-Identifier: MIT */
/* cwlua.core.tty: the terminal for 'cwlua term' and the progress bars (bindings/l_tty.c). */
#ifndef CWLUA_BINDINGS_L_TTY_H
#define CWLUA_BINDINGS_L_TTY_H

#include <lua.h>

int luaopen_cwlua_core_tty(lua_State *L);

#endif

/* SPDX-License-Identifier: MIT */
/* cwlua.core.serial: plain serial adapters (l_serial.c). */
#ifndef CWLUA_BINDINGS_L_SERIAL_H
#define CWLUA_BINDINGS_L_SERIAL_H

#include <lua.h>

int luaopen_cwlua_core_serial(lua_State *L);

#endif

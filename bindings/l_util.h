/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the bindings (style.md §2.3: one way to report failures). */
#ifndef CWLUA_BINDINGS_L_UTIL_H
#define CWLUA_BINDINGS_L_UTIL_H

#include "cw_transport.h"

#include <lua.h>

/* Push nil, err->msg, code name; returns 3 (mpv's check_error, liolib's luaL_fileresult). */
int cwl_pushfail(lua_State *L, const cw_err *err);
/* t[k] = v for the table on top of the stack. */
void cwl_setstr(lua_State *L, const char *k, const char *v);
void cwl_setint(lua_State *L, const char *k, lua_Integer v);
void cwl_setbool(lua_State *L, const char *k, int v);

int luaopen_cwlua_core_device(lua_State *L);

#endif

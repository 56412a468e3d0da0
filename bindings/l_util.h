/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the bindings (style.md §2.3: one way to report failures). */
#ifndef CWLUA_BINDINGS_L_UTIL_H
#define CWLUA_BINDINGS_L_UTIL_H

#include "cw_transport.h"

#include <lauxlib.h>
#include <lua.h>

/* Push nil, err->msg, code name; returns 3 (mpv's check_error, liolib's luaL_fileresult). */
int cwl_pushfail(lua_State *L, const cw_err *err);
/* t[k] = v for the table on top of the stack. */
void cwl_setstr(lua_State *L, const char *k, const char *v);
void cwl_setint(lua_State *L, const char *k, lua_Integer v);
void cwl_setbool(lua_State *L, const char *k, int v);

/* A timeout_ms argument of a transfer: 1 ms to an hour, else it raises (misuse, style.md §2.3). */
unsigned cwl_checktimeout(lua_State *L, int arg);

/* The userdata of a transport handle (cwlua.Device, cwlua.SerialPort; style.md §2.1): one
 * cw_dev, NULL once closed. Both bindings close, collect and check it the same way, so the
 * rules (a second close raises like io.close, __gc never raises) live here once. tname is
 * the metatable's name, what the handle's name in the errors ("device", "serial port"). */
typedef struct cwl_dev {
    cw_dev *dev; /* NULL: closed */
} cwl_dev;

/* Push a new handle of metatable tname, closed until the caller's open fills ->dev. */
cwl_dev *cwl_dev_new(lua_State *L, const char *tname);
/* The handle at argument 1, open or closed. */
cwl_dev *cwl_dev_checkhandle(lua_State *L, const char *tname);
/* The open device at argument 1; a closed one raises "attempt to use a closed <what>". */
cw_dev *cwl_dev_check(lua_State *L, const char *tname, const char *what);
/* h:close() -> true; a second close raises "attempt to close a closed <what>". */
int cwl_dev_close(lua_State *L, const char *tname, const char *what);
/* __gc and __close: close the device if it is open; never raises. Returns 0. */
int cwl_dev_gc(lua_State *L, const char *tname);

/* A module with one class, registered as the bindings with a userdata all do: metatable tname
 * gets meta's entries and, unless methods is NULL, a table of the methods as __index (an
 * "__index" placeholder in meta is replaced); then the module table of funcs is pushed.
 * Returns 1, for luaopen_*. */
int cwl_newclass(lua_State *L, const char *tname, const luaL_Reg *meta, const luaL_Reg *methods,
                 const luaL_Reg *funcs);

int luaopen_cwlua_core_device(lua_State *L);

#endif

/* SPDX-License-Identifier: MIT */
/* cw_core_preload: the one list of cwlua's C modules (core.h). None is a global (style.md
 * §2.1): each loads on its first require. */
#include "core.h"

#include "l_serial.h"
#include "l_signal.h"
#include "l_trace.h"
#include "l_tty.h"
#include "l_util.h"
#include "l_zlib.h"
#include "proc.h"
#include "runtime.h"

#include <lauxlib.h>

void cw_core_preload(lua_State *L)
{
    static const luaL_Reg modules[] = {
        {"cwlua.core.runtime", luaopen_cwlua_core_runtime},
        {"cwlua.core.device", luaopen_cwlua_core_device},
        {"cwlua.core.signal", luaopen_cwlua_core_signal},
        {"cwlua.core.serial", luaopen_cwlua_core_serial},
        {"cwlua.core.tty", luaopen_cwlua_core_tty},
        {"cwlua.core.zlib", luaopen_cwlua_core_zlib},
        {"cwlua.core.trace", luaopen_cwlua_core_trace},
        {"cwlua.core.proc", luaopen_cwlua_core_proc},
        {NULL, NULL},
    };
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE); /* [preload] */
    for (const luaL_Reg *m = modules; m->name != NULL; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
}

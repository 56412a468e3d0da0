/* SPDX-License-Identifier: MIT */
/* cwlua/core.so: cwlua's C parts as a Lua 5.4 C module, so that another interpreter (Debian's
 * lua5.4) can `require "cwlua"` (docs/api.md "Using cwlua from your own Lua").
 *
 *   require "cwlua.core" -> { host = "module", file = "/usr/lib/.../lua/5.4/cwlua/core.so",
 *                             module_subdir = "lib/.../lua/5.4/cwlua", data_subdir =
 *                             "share/cwlua", version = "0.1.0" }
 *
 * Loading it registers every cwlua.core.* module in package.preload (core.c); the Lua library
 * (scripts/cwlua, installed under the Lua path) does the rest. The install prefix is `file`
 * less `module_subdir`, and the recipes are under prefix/data_subdir (scripts/cwlua/path.lua):
 * the two subfolders are the install rules' own (runtime/CMakeLists.txt).
 *
 * The module is a host's guest: it installs no signal handler and no hook at load (the
 * instruction budget hooks the running thread only while it runs, l_signal.c), and it has no
 * embedded scripts. It does not link liblua: its lua_* symbols are the interpreter's, as for
 * every Lua C module Debian ships. */
#include "core.h"
#include "cwlua_version.h" /* CWLUA_VERSION, made by the build (cmake/GitVersion.cmake) */
#include "embedded.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>

#ifndef CWLUA_MODULE_SUBDIR
#error "CWLUA_MODULE_SUBDIR must be defined by the build"
#endif
#ifndef CWLUA_DATA_SUBDIR
#error "CWLUA_DATA_SUBDIR must be defined by the build"
#endif

/* The module has no copy of the library: its Lua files are on package.path. */
const cw_embedded cw_embedded_scripts[] = {{NULL, NULL, NULL, 0}};

int luaopen_cwlua_core(lua_State *L)
{
    /* A Lua other than the 5.4 this was built for (its numbers, its ABI) stops here. */
    luaL_checkversion(L);
    /* require passes the file it found as the second argument (Lua 5.4 loadlib.c). */
    const char *file = lua_tostring(L, 2);
    cw_core_preload(L);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, "module");
    lua_setfield(L, -2, "host");
    if (file != NULL) {
        char abs[PATH_MAX];
        lua_pushstring(L, realpath(file, abs) != NULL ? abs : file);
        lua_setfield(L, -2, "file");
    }
    lua_pushstring(L, CWLUA_MODULE_SUBDIR);
    lua_setfield(L, -2, "module_subdir");
    lua_pushstring(L, CWLUA_DATA_SUBDIR);
    lua_setfield(L, -2, "data_subdir");
    lua_pushstring(L, CWLUA_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}

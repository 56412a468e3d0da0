/* SPDX-License-Identifier: MIT */
/* cwlua.core.runtime: what the Lua side needs from the process and the build.
 *
 *   runtime.version                  -> "0.1.0" (cwlua)
 *   runtime.lua_release              -> "Lua 5.4.4" (headers built against)
 *   runtime.lua_version              -> 504 (lua_version() of the library actually linked)
 *   runtime.libusb_version()         -> "1.0.26.11724" (libusb_get_version(), run time)
 *   runtime.libserialport_version()  -> "0.1.1", "1:0:1" (package, library ABI; run time)
 *   runtime.exe_path()               -> "/usr/local/bin/cwlua" | nil, msg, code
 *   runtime.embedded(name)           -> source, chunkname | nil
 *   runtime.embedded_names()         -> { "cwlua.cli", ... } (sorted)
 *   runtime.dir(path)                -> { "a.lua", ... } (sorted, no dot entries) | nil, msg, code
 *   runtime.stat(path)               -> { type = "file" | "directory" | "fifo" | "socket" |
 *                                        "char" | "block" | "other", size = bytes }
 *                                       | nil, msg, code (stat(2): symbolic links followed)
 *   runtime.isatty(fd)               -> boolean (fd 0, 1 or 2)
 *   runtime.exec(path, argv)         -> does not return | nil, msg, code (execv(3))
 *
 * World failures return nil, message, code (style.md §2.3); misuse raises. */
#include "runtime.h"

#include "embedded.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <libserialport.h>
#include <libusb.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CWLUA_VERSION
#error "CWLUA_VERSION must be defined by the build"
#endif

/* Push nil, "<what>: <strerror>", code; code is a stable lowercase word (style.md §2.3). */
static int pushfail_errno(lua_State *L, const char *what, int err)
{
    const char *code;
    switch (err) {
    case ENOENT:
        code = "not_found";
        break;
    case EACCES:
    case EPERM:
        code = "access";
        break;
    case ENOTDIR:
        code = "not_dir";
        break;
    default:
        code = "io";
        break;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what, strerror(err));
    lua_pushstring(L, code);
    return 3;
}

static int l_libusb_version(lua_State *L)
{
    const struct libusb_version *v = libusb_get_version();
    lua_pushfstring(L, "%d.%d.%d.%d", (int)v->major, (int)v->minor, (int)v->micro, (int)v->nano);
    return 1;
}

static int l_libserialport_version(lua_State *L)
{
    lua_pushstring(L, sp_get_package_version_string());
    lua_pushstring(L, sp_get_lib_version_string());
    return 2;
}

static int l_exe_path(lua_State *L)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0)
        return pushfail_errno(L, "/proc/self/exe", errno);
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

static int l_embedded(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    for (const cw_embedded *e = cw_embedded_scripts; e->name != NULL; e++) {
        if (strcmp(e->name, name) == 0) {
            lua_pushlstring(L, e->source, e->len);
            lua_pushstring(L, e->chunkname);
            return 2;
        }
    }
    lua_pushnil(L);
    return 1;
}

static int l_embedded_names(lua_State *L)
{
    lua_newtable(L);
    lua_Integer i = 0;
    for (const cw_embedded *e = cw_embedded_scripts; e->name != NULL; e++) {
        lua_pushstring(L, e->name);
        lua_rawseti(L, -2, ++i);
    }
    lua_getglobal(L, "table"); /* [names, table] */
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 1;
}

/* Collect names into a Lua table first (no malloc across raises), then sort in Lua. */
static int l_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (d == NULL)
        return pushfail_errno(L, path, errno);
    lua_newtable(L); /* [names] */
    lua_Integer i = 0;
    struct dirent *ent;
    errno = 0;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if (!lua_checkstack(L, 2)) {
            closedir(d);
            return luaL_error(L, "stack overflow listing %s", path);
        }
        lua_pushstring(L, ent->d_name);
        lua_rawseti(L, -2, ++i);
    }
    int err = errno;
    closedir(d);
    if (err != 0)
        return pushfail_errno(L, path, err);
    lua_getglobal(L, "table"); /* [names, table] */
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 1;
}

/* Lets a caller refuse what is not a regular file before opening it: opening a FIFO blocks
 * until a writer comes, a device may never end (/dev/zero) or act on being opened (a serial
 * port's control lines). */
static int l_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0)
        return pushfail_errno(L, path, errno);
    const char *type = "other";
    if (S_ISREG(st.st_mode))
        type = "file";
    else if (S_ISDIR(st.st_mode))
        type = "directory";
    else if (S_ISFIFO(st.st_mode))
        type = "fifo";
    else if (S_ISSOCK(st.st_mode))
        type = "socket";
    else if (S_ISCHR(st.st_mode))
        type = "char";
    else if (S_ISBLK(st.st_mode))
        type = "block";
    lua_createtable(L, 0, 2);
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_setfield(L, -2, "size");
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= 2, 1, "fd must be 0, 1 or 2");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

/* runtime.exec(path, argv): argv is a sequence whose [1] becomes argv[0]. The argument
 * vector lives in a userdata so nothing leaks if a raise happens while it is built. */
static int l_exec(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 1 && n < 4096, 2, "argv must have 1 to 4095 entries");
    const char **vec = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        vec[i - 1] = luaL_checkstring(L, -1); /* the table keeps the string alive */
        lua_pop(L, 1);
    }
    vec[n] = NULL;
    fflush(NULL);
    execv(path, (char *const *)(void *)vec);
    return pushfail_errno(L, path, errno);
}

int luaopen_cwlua_core_runtime(lua_State *L)
{
    /* clang-format off */
    static const luaL_Reg funcs[] = {
        {"libusb_version", l_libusb_version},
        {"libserialport_version", l_libserialport_version},
        {"exe_path", l_exe_path},
        {"embedded", l_embedded},
        {"embedded_names", l_embedded_names},
        {"dir", l_dir},
        {"stat", l_stat},
        {"isatty", l_isatty},
        {"exec", l_exec},
        {NULL, NULL},
    };
    /* clang-format on */
    luaL_newlib(L, funcs);
    lua_pushstring(L, CWLUA_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua_release");
    lua_pushinteger(L, (lua_Integer)lua_version(L));
    lua_setfield(L, -2, "lua_version");
    return 1;
}

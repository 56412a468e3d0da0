/* SPDX-License-Identifier: MIT */
/* cwlua's main(): builds the Lua state, makes the embedded library loadable, and hands the
 * command line to the Lua bootstrap (scripts/cwlua/boot.lua). Modelled on lua.c: everything
 * runs inside a protected call, a message handler adds a traceback, one status becomes the
 * exit code. No protocol logic lives here (contract.md §2). */
#include "core.h"
#include "cwlua_version.h" /* CWLUA_VERSION, made by the build (cmake/GitVersion.cmake) */
#include "embedded.h"
#include "l_readline.h"
#include "l_signal.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *progname = "cwlua";

/* Lua's message for a failed allocation (the one it preallocates in every state); assert and
 * error put a position in front of it ("boot.lua:14: not enough memory"). */
static const char no_memory[] = "not enough memory";

static int is_out_of_memory(const char *msg)
{
    size_t len = strlen(msg), tail = sizeof no_memory - 1;
    return len >= tail && strcmp(msg + len - tail, no_memory) == 0;
}

/* Errors that escape the Lua CLI are bugs or setup failures: print them with a traceback
 * (lua.c msghandler). User-facing errors are caught and reported by cwlua.cli itself. Out of
 * memory passes unchanged: a traceback would need memory. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg != NULL && is_out_of_memory(msg))
        return 1;
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* With --json, the one object a failure prints (contract.md §3.7) for the failures cwlua.cli
 * cannot report: the error escaped it, or there is no memory left to run it. Keys sorted as
 * cwlua.json sorts them; "error" is the message's first line, escaped as JSON needs. */
static void json_failure(const char *cause, const char *msg)
{
    if (!cw_signal_json())
        return;
    printf("{\"cause\":\"%s\",\"error\":\"", cause);
    for (const char *p = msg; *p != '\0' && *p != '\n'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    fputs("\",\"schema\":1}\n", stdout);
    fflush(stdout);
}

/* require "cwlua.core" in the binary: { host = "cwlua", version = "0.1.0" } (module.c has the
 * module's). */
static int open_core(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, "cwlua");
    lua_setfield(L, -2, "host");
    lua_pushstring(L, CWLUA_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}

/* pmain(argc, argv) -> exit status; runs protected so that setup errors are Lua errors. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);

    luaL_checkversion(L);
    luaL_openlibs(L);
    /* The C modules, loaded on first require (none is a global; style.md §2.1): the list a
     * Lua interpreter that loads cwlua/core.so gets too (core.c), the binary's line editing,
     * and cwlua.core itself, which tells the library which host it runs in. */
    cw_core_preload(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE); /* [preload] */
    lua_pushcfunction(L, luaopen_cwlua_core_readline);
    lua_setfield(L, -2, "cwlua.core.readline");
    lua_pushcfunction(L, open_core);
    lua_setfield(L, -2, "cwlua.core");
    lua_pop(L, 1);

    const cw_embedded *boot = NULL;
    for (const cw_embedded *e = cw_embedded_scripts; e->name != NULL && boot == NULL; e++) {
        if (strcmp(e->name, "cwlua.boot") == 0)
            boot = e;
    }
    if (boot == NULL)
        return luaL_error(L, "the embedded bootstrap cwlua.boot is missing (broken build)");
    if (luaL_loadbufferx(L, boot->source, boot->len, boot->chunkname, "t") != LUA_OK)
        return lua_error(L);

    lua_createtable(L, argc, 0); /* [boot, argv] */
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    cw_signal_hook(L); /* SIGINT/SIGTERM stop any Lua code from here on (l_signal.c) */
    lua_call(L, 1, 1); /* [status] */
    return 1;
}

int main(int argc, char **argv)
{
    /* Before anything else: a signal in the first milliseconds is recorded, not fatal, and
     * ends the run below like any other (exit 128 + signal number, one line). */
    cw_signal_setup();
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fputs("cwlua: out of memory\n", stderr);
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, msghandler);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 1);
    int code;
    int signo = cw_signal_pending();
    if (signo != 0) {
        /* The run unwound because of SIGINT or SIGTERM; every guard restored what it had
         * changed on the way out (signal.hold). The shell's convention: 128 + signo. With
         * --json the one object a failure prints (contract.md §3.7), keys sorted as
         * cwlua.json sorts them; Lua cannot print it, the run has unwound. */
        if (cw_signal_json()) {
            fputs("{\"cause\":\"interrupted\",\"error\":\"interrupted\",\"schema\":1}\n", stdout);
            fflush(stdout);
        }
        fprintf(stderr, "%s: interrupted\n", progname);
        code = 128 + signo;
    } else if (status == LUA_ERRMEM || (status != LUA_OK && lua_type(L, -1) == LUA_TSTRING &&
                                        is_out_of_memory(lua_tostring(L, -1)))) {
        /* One line and no allocation: the memory may still be held (cwlua.cli does the same
         * for what happens inside a command). */
        fputs("cwlua: out of memory\n", stderr);
        json_failure("out-of-memory", "out of memory");
        code = EXIT_FAILURE;
    } else if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL)
            msg = "(error object is not a string)";
        fprintf(stderr, "%s: %s\n", progname, msg);
        json_failure("internal", msg);
        code = EXIT_FAILURE;
    } else {
        code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_FAILURE;
    }
    /* The finalizers that close what is still open run to their end, uninterrupted. */
    cw_signal_unhook(L);
    lua_close(L);
    return code;
}

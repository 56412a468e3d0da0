/* SPDX-License-Identifier: MIT */
/* cwlua.core.readline: the prompt of 'cwlua shell' (docs/api.md "cwlua shell"). Line editing
 * and history come from libedit's readline interface (BSD-licensed, Debian's libedit-dev);
 * when standard input is not a terminal, lines are read plainly and no prompt is shown, so a
 * script or a test can pipe a session in. The REPL itself is Lua (scripts/cwlua/repl.lua).
 *
 *   readline.interactive() -> boolean     standard input and output are terminals
 *   readline.read(prompt) -> line | nil   nil at end of input; the line has no newline
 *   readline.add_history(line)
 *   readline.load_history(path) -> true | nil, msg, "io"
 *   readline.save_history(path, max_lines) -> true | nil, msg, "io"
 */
#include "l_readline.h"

#include <editline/readline.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int interactive(void)
{
    return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
}

/* readline.interactive() -> boolean */
static int l_interactive(lua_State *L)
{
    lua_pushboolean(L, interactive());
    return 1;
}

/* readline.read(prompt) -> line | nil (end of input) */
static int l_read(lua_State *L)
{
    const char *prompt = luaL_checkstring(L, 1);
    if (interactive()) {
        char *line = readline(prompt); /* malloc'ed: copied before anything can raise */
        if (line == NULL)
            return 0;
        lua_pushstring(L, line);
        free(line);
        return 1;
    }
    /* plain input: read up to the newline into a Lua buffer (no malloc across a raise) */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int c, any = 0;
    while ((c = getchar()) != EOF && c != '\n') {
        luaL_addchar(&b, (char)c);
        any = 1;
    }
    if (c == EOF && !any)
        return 0;
    luaL_pushresult(&b);
    return 1;
}

/* readline.add_history(line) */
static int l_add_history(lua_State *L)
{
    const char *line = luaL_checkstring(L, 1);
    if (interactive() && line[0] != '\0')
        add_history(line);
    return 0;
}

static int io_fail(lua_State *L, const char *what, const char *path, int err)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(err));
    lua_pushstring(L, "io");
    return 3;
}

/* readline.load_history(path) -> true | nil, msg, "io" (a missing file is not an error) */
static int l_load_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (!interactive() || access(path, F_OK) != 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    errno = 0;
    if (read_history(path) != 0)
        return io_fail(L, "cannot read history", path, errno ? errno : EIO);
    lua_pushboolean(L, 1);
    return 1;
}

/* readline.save_history(path, max_lines) -> true | nil, msg, "io" */
static int l_save_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_argcheck(L, max > 0 && max < 1000000, 2, "must be 1 to 999999");
    if (!interactive()) {
        lua_pushboolean(L, 1);
        return 1;
    }
    stifle_history((int)max);
    errno = 0;
    if (write_history(path) != 0)
        return io_fail(L, "cannot write history", path, errno ? errno : EIO);
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_cwlua_core_readline(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"interactive", l_interactive},   {"read", l_read},
        {"add_history", l_add_history},   {"load_history", l_load_history},
        {"save_history", l_save_history}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}

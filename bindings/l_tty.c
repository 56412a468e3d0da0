/* SPDX-License-Identifier: MIT */
/* cwlua.core.tty: what 'cwlua term' and the progress bars need from the terminal (POSIX
 * termios and poll, the TIOCGWINSZ ioctl): raw keyboard input, bounded reads, the window size.
 * The console logic is Lua (scripts/cwlua/cmd/term.lua), the bars scripts/cwlua/progress.lua.
 *
 *   tty.isatty(fd) -> boolean
 *   tty.size(fd) -> columns, rows | nil, msg, code   the window size the terminal reports
 *                                           (TIOCGWINSZ); "unsupported" when fd is not a
 *                                           terminal or it reports 0 columns (a pty nobody
 *                                           sized), "io" on another failure
 *   tty.raw(fd) -> guard | nil, msg, code   keys arrive one by one, unechoed; Ctrl-C, Ctrl-Z,
 *                                           Ctrl-S/Q are plain bytes; output still turns "\n"
 *                                           into "\r\n". guard:restore(), <close> and __gc
 *                                           put the saved settings back (idempotent).
 *   tty.read(fd, n, timeout_ms) -> bytes | nil, msg, "timeout" | nil, msg, "eof" |
 *                                  nil, msg, "io"
 */
#include "l_tty.h"

#include "l_util.h"

#include <errno.h>
#include <lauxlib.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define CW_TTY_RAW "cwlua.tty.Raw" /* metatable name, becomes __name */

typedef struct l_raw {
    int fd; /* -1: restored */
    struct termios saved;
} l_raw;

static int fail(lua_State *L, const char *msg, const char *code)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, code);
    return 3;
}

static int check_fd(lua_State *L, int arg)
{
    lua_Integer fd = luaL_checkinteger(L, arg);
    luaL_argcheck(L, fd >= 0 && fd < 65536, arg, "not a file descriptor");
    return (int)fd;
}

/* tty.isatty(fd) -> boolean */
static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty(check_fd(L, 1)));
    return 1;
}

/* tty.size(fd) -> columns, rows | nil, msg, code */
static int l_size(lua_State *L)
{
    int fd = check_fd(L, 1);
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0)
        return fail(L, strerror(errno), errno == ENOTTY || errno == EINVAL ? "unsupported" : "io");
    if (ws.ws_col == 0)
        return fail(L, "the terminal reports no size", "unsupported");
    lua_pushinteger(L, ws.ws_col);
    lua_pushinteger(L, ws.ws_row);
    return 2;
}

/* tty.raw(fd) -> guard | nil, msg, code */
static int l_raw_mode(lua_State *L)
{
    int fd = check_fd(L, 1);
    l_raw *r = lua_newuserdatauv(L, sizeof *r, 0); /* [guard]: restored until set below */
    r->fd = -1;
    luaL_setmetatable(L, CW_TTY_RAW);
    if (!isatty(fd))
        return fail(L, "not a terminal", "unsupported");
    if (tcgetattr(fd, &r->saved) != 0)
        return fail(L, strerror(errno), "io");
    struct termios t = r->saved;
    t.c_lflag &= (tcflag_t) ~(ICANON | ECHO | ECHONL | ISIG | IEXTEN);
    t.c_iflag &= (tcflag_t) ~(IXON | IXOFF | ICRNL | INLCR | IGNCR | ISTRIP | BRKINT);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &t) != 0)
        return fail(L, strerror(errno), "io");
    r->fd = fd;
    return 1;
}

/* guard:restore() -> true; also __gc and __close, which never raise */
static int raw_restore(lua_State *L)
{
    l_raw *r = luaL_checkudata(L, 1, CW_TTY_RAW);
    if (r->fd >= 0) {
        (void)tcsetattr(r->fd, TCSANOW, &r->saved); /* nowhere to report a failure */
        r->fd = -1;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* tty.read(fd, n, timeout_ms) -> bytes | nil, msg, code */
static int l_read(lua_State *L)
{
    int fd = check_fd(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    lua_Integer ms = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n > 0 && n <= 65536, 2, "must be 1 to 65536");
    luaL_argcheck(L, ms >= 0 && ms <= 3600000, 3, "must be 0 to 3600000");
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    int rc = poll(&p, 1, (int)ms);
    if (rc < 0 && errno == EINTR)
        rc = 0; /* a signal: the caller's loop looks again (and Ctrl-C's hook runs) */
    if (rc < 0)
        return fail(L, strerror(errno), "io");
    if (rc == 0)
        return fail(L, "no input", "timeout");
    luaL_Buffer b;
    char *buf = luaL_buffinitsize(L, &b, (size_t)n);
    ssize_t got = read(fd, buf, (size_t)n);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return fail(L, "no input", "timeout");
    if (got < 0)
        return fail(L, strerror(errno), "io");
    if (got == 0)
        return fail(L, "end of input", "eof");
    luaL_pushresultsize(&b, (size_t)got);
    return 1;
}

int luaopen_cwlua_core_tty(lua_State *L)
{
    static const luaL_Reg meta[] = {
        {"__index", NULL}, {"__gc", raw_restore}, {"__close", raw_restore}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"restore", raw_restore}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"isatty", l_isatty},
                                     {"raw", l_raw_mode},
                                     {"read", l_read},
                                     {"size", l_size},
                                     {NULL, NULL}};
    return cwl_newclass(L, CW_TTY_RAW, meta, methods, funcs);
}

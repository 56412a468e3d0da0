/* SPDX-License-Identifier: MIT */
/* cwlua.core.runtime: what the Lua side needs from the process and the build.
 *
 *   runtime.version                  -> "0.1.0", "0.1.0+git12.g1a2b3c4" (cwlua; GitVersion.cmake)
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
 *   runtime.mkdir(path)              -> true | nil, msg, code (mkdir(2), mode 0777 less the
 *                                       umask; code "exists" when something is there already)
 *   runtime.isatty(fd)               -> boolean (fd 0, 1 or 2)
 *   runtime.exec(path, argv)         -> does not return | nil, msg, code (execv(3))
 *   runtime.capture(argv [, max [, timeout_ms]]) -> stdout, status | nil, msg, code
 *                                       runs a program with an argument vector, no shell
 *
 * World failures return nil, message, code (style.md §2.3); misuse raises. */
#include "runtime.h"

#include "cwlua_version.h" /* CWLUA_VERSION, made by the build (cmake/GitVersion.cmake) */
#include "embedded.h"
#include "l_signal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <libserialport.h>
#include <libusb.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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
    case EEXIST:
        code = "exists";
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

/* One folder, for the trace sets `cwlua capture` writes (scripts/cwlua/traceset.lua). */
static int l_mkdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (mkdir(path, 0777) != 0)
        return pushfail_errno(L, path, errno);
    lua_pushboolean(L, 1);
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

/* Milliseconds on the monotonic clock, for capture()'s deadline. */
static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reaps the child, killing it first when kill_it is set, or once the deadline passed or a
 * signal is pending; returns its status as a shell would: the exit code, or 128 + the signal
 * that ended it (-1 when it cannot be known). */
static int reap(pid_t pid, int kill_it, long long deadline)
{
    if (kill_it)
        kill(pid, SIGKILL);
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, kill_it ? 0 : WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (r == 0) {
            if (mono_ms() >= deadline || cw_signal_pending()) {
                kill(pid, SIGKILL);
                kill_it = 1;
                continue;
            }
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* runtime.capture(argv [, max [, timeout_ms]]) -> stdout, status | nil, msg, code
 * Runs argv[1] (looked up on PATH when it has no '/') with argv as its argument vector: no
 * shell, so nothing in an argument is ever read as a command (cwlua.bitstream asks Python where
 * NewAE's package is this way). stdin and stderr are /dev/null. Returns what the program wrote
 * to stdout (at most max bytes, default 65536; the rest is not read) and its exit status (128 +
 * the signal that ended it). A program that cannot be started gives nil, msg, "not_found" (or
 * "access", "io"); one still running after timeout_ms (default 10000) is killed: nil, msg,
 * "timeout"; a SIGINT/SIGTERM while waiting kills it too: nil, "interrupted", "interrupted".
 * The argument vector and the buffer are made before the child starts, so nothing raises while
 * it runs. */
static int l_capture(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n < 4096, 1, "argv must have 1 to 4095 entries");
    lua_Integer max = luaL_optinteger(L, 2, 65536);
    luaL_argcheck(L, max > 0 && max <= (1 << 24), 2, "must be 1 to 16777216 bytes");
    lua_Integer timeout_ms = luaL_optinteger(L, 3, 10000);
    luaL_argcheck(L, timeout_ms > 0 && timeout_ms <= 3600000, 3, "must be 1 to 3600000 ms");
    const char **vec = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        vec[i - 1] = luaL_checkstring(L, -1); /* the table keeps the string alive */
        lua_pop(L, 1);
    }
    vec[n] = NULL;
    char *buf = lua_newuserdatauv(L, (size_t)max, 0);

    int fds[2];
    if (pipe(fds) != 0)
        return pushfail_errno(L, "pipe", errno);
    /* Only the child's stdout end goes to the child (dup2 clears close-on-exec on fd 1). */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* The child starts with the default SIGINT/SIGTERM actions and nothing blocked. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int err = posix_spawnp(&pid, vec[0], &fa, &attr, (char *const *)(void *)vec, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        return pushfail_errno(L, vec[0], err);
    }

    size_t len = 0;
    int eof = 0;
    long long deadline = mono_ms() + (long long)timeout_ms;
    const char *fail = NULL, *code = NULL;
    for (;;) {
        if (cw_signal_pending()) {
            fail = code = "interrupted";
            break;
        }
        long long left = deadline - mono_ms();
        if (left <= 0) {
            fail = "did not finish in time";
            code = "timeout";
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN, .revents = 0};
        int r = poll(&p, 1, left > 100 ? 100 : (int)left);
        if (r < 0 && errno != EINTR) {
            fail = "poll failed";
            code = "io";
            break;
        }
        if (r <= 0)
            continue;
        ssize_t got = read(fds[0], buf + len, (size_t)max - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            eof = 1; /* end of file (or an error: what was read is what there is) */
            break;
        }
        len += (size_t)got;
        if (len == (size_t)max)
            break;
    }
    close(fds[0]);
    /* A child that wrote more than max is not waited for (it would block on the full pipe). */
    int status = reap(pid, fail != NULL || !eof, deadline);
    if (fail != NULL) {
        lua_pushnil(L);
        if (strcmp(code, "interrupted") == 0)
            lua_pushstring(L, "interrupted");
        else
            lua_pushfstring(L, "%s: %s", vec[0], fail);
        lua_pushstring(L, code);
        return 3;
    }
    lua_pushlstring(L, buf, len);
    lua_pushinteger(L, status);
    return 2;
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
        {"mkdir", l_mkdir},
        {"isatty", l_isatty},
        {"exec", l_exec},
        {"capture", l_capture},
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

/* SPDX-License-Identifier: MIT */
/* cwlua.core.proc: child processes that the Lua side runs side by side and listens to — the
 * workers of a command given several boards, one cwlua process per board (cwlua.multi,
 * docs/architecture.md "Several boards at once").
 *
 *   proc.spawn(argv [, opts])  -> p | nil, msg, code
 *       argv = { path, arg1, ... }: path is run as given (execv: no PATH search)
 *       opts.env = { "NAME=VALUE", ... }: added to this process's environment (replacing a
 *                  variable of that name); opts.channel = true: a pipe on the child's fd 3
 *       The child's stdin is /dev/null; its stdout, stderr (and fd 3) are pipes read by
 *       proc.poll. It runs in a process group of its own, so a Ctrl-C typed at the terminal
 *       reaches only this process, which passes it on once (p:kill): a second SIGINT would end
 *       a cwlua child before it has put its board back (l_signal.c is one-shot). SIGPIPE is
 *       ignored in it: a child whose reader has gone finishes its work and restores its board
 *       instead of dying on a write.
 *       A child that cannot be started for want of open files or processes fails with
 *       code "limit" (the soft limit on open files is raised to the hard one first, once).
 *   proc.MAX -> the most processes proc.poll takes at once (256)
 *   proc.poll(procs, timeout_ms) -> boolean
 *       waits up to timeout_ms (0 to 60000) for output from any of procs (a sequence) or for
 *       one of them to end, reads what is there, and says whether anything happened; returns
 *       early, false, when a signal arrives (the caller's hook then raises)
 *   p:take(stream)  -> string: what came on "stdout", "stderr" or "channel" since the last take
 *   p:status()      -> nil while it runs or its output is still coming; then its exit status
 *                      as a shell gives it (128 + N after signal N)
 *   p:kill(signo)   -> true | nil, msg, code (signo: 2 SIGINT, 15 SIGTERM, 9 SIGKILL)
 *   p:pid()         -> the process id
 *   p:close()       -> closes the pipes; a child still running is sent SIGTERM (also __gc)
 *
 * The child's side of the channel:
 *   proc.channel_open() -> true when this process is a worker: $CWLUA_WORKER_FD names the fd its
 *                          parent reads events from. The variable is removed and the fd made
 *                          close-on-exec, so programs this one runs do not write into it.
 *   proc.channel_write(text) -> true | nil, msg, code: text written whole (a line of events)
 *
 * World failures return nil, message, code (style.md §2.3); misuse raises. */
#include "proc.h"

#include "l_signal.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CW_PROC      "cwlua.Proc"
#define MAX_ARGS     4096
#define MAX_PROCS    256
#define CHANNEL_FD   3
#define READ_CHUNK   65536
#define MAX_BUFFERED (64 << 20) /* a child that writes this much unread is not a worker */
#define MAX_TIMEOUT  60000

enum { S_OUT, S_ERR, S_CHAN, S_COUNT };
static const char *const stream_names[] = {"stdout", "stderr", "channel", NULL};

typedef struct buffer {
    char *data;
    size_t len, cap;
} buffer;

typedef struct l_proc {
    pid_t pid;       /* 0: never started */
    int fd[S_COUNT]; /* read ends; -1 once at end of file or closed */
    buffer buf[S_COUNT];
    int status; /* -1 while running */
} l_proc;

static l_proc *checkproc(lua_State *L, int i)
{
    return luaL_checkudata(L, i, CW_PROC);
}

static int pushfail(lua_State *L, const char *what, int err)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what, strerror(err));
    /* "limit": out of open files or processes, a limit of this process or the system */
    int limit = err == EMFILE || err == ENFILE || err == EAGAIN;
    lua_pushstring(L, err == ENOENT   ? "not_found"
                      : err == EACCES ? "access"
                      : limit         ? "limit"
                                      : "io");
    return 3;
}

/* Each worker costs this process three pipes' read ends while it runs, so thirty boards need
 * about a hundred files open at once: more than a soft limit set low (ulimit -Sn) allows. The
 * soft limit is only a default (a select()-era one: cwlua waits with poll), so once files run
 * out it is raised to the hard limit, once, as the process may do itself. 1: raised. */
static int raise_file_limit(void)
{
    static int tried = 0;
    struct rlimit rl;
    if (tried || getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return 0;
    tried = 1;
    rl.rlim_cur = rl.rlim_max;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* Reaps the child if it has ended; returns 1 when its status is known. */
static int reap(l_proc *p)
{
    if (p->status >= 0)
        return 1;
    if (p->pid <= 0)
        return 0;
    int st = 0;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r != p->pid)
        return 0;
    if (WIFEXITED(st))
        p->status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        p->status = 128 + WTERMSIG(st);
    else
        p->status = 1;
    return 1;
}

/* Appends what fd has to its buffer; at end of file (or an error) closes it. 0 or -1 (no
 * memory: the data stays in the pipe, the caller raises). */
static int drain(l_proc *p, int s)
{
    char chunk[READ_CHUNK];
    ssize_t n = read(p->fd[s], chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        close(p->fd[s]);
        p->fd[s] = -1;
        return 0;
    }
    buffer *b = &p->buf[s];
    if (b->len + (size_t)n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + (size_t)n)
            cap *= 2;
        if (cap > MAX_BUFFERED)
            return -1;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, chunk, (size_t)n);
    b->len += (size_t)n;
    return 0;
}

static void close_all(l_proc *p)
{
    for (int s = 0; s < S_COUNT; s++) {
        if (p->fd[s] >= 0)
            close(p->fd[s]);
        p->fd[s] = -1;
        free(p->buf[s].data);
        p->buf[s] = (buffer){NULL, 0, 0};
    }
    if (p->pid > 0 && !reap(p))
        kill(p->pid, SIGTERM); /* a worker told to stop puts its board back and ends */
}

/* A pipe whose ends are closed on exec: only what dup2 puts on the child's 0-3 goes across. */
static int cloexec_pipe(int fds[2])
{
    if (pipe(fds) != 0 && !(errno == EMFILE && raise_file_limit() && pipe(fds) == 0))
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

static int l_gc(lua_State *L)
{
    close_all(checkproc(L, 1));
    return 0;
}

/* The environment: ours, with opts.env's entries added or replacing ours of the same name. The
 * vector lives in a userdata on the stack; the strings in environ and in the table. */
static char **build_env(lua_State *L, int opts)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    lua_Integer extra = 0;
    if (opts != 0) {
        lua_getfield(L, opts, "env");
        if (!lua_isnil(L, -1)) {
            luaL_checktype(L, -1, LUA_TTABLE);
            extra = luaL_len(L, -1);
        }
        lua_pop(L, 1);
    }
    luaL_argcheck(L, extra >= 0 && extra < 256, 2, "opts.env must have at most 255 entries");
    char **env = lua_newuserdatauv(L, sizeof(char *) * (n + (size_t)extra + 1), 0);
    memcpy(env, environ, n * sizeof(char *));
    if (extra > 0) {
        lua_getfield(L, opts, "env");
        for (lua_Integer i = 1; i <= extra; i++) {
            lua_rawgeti(L, -1, i);
            const char *e = luaL_checkstring(L, -1);
            const char *eq = strchr(e, '=');
            luaL_argcheck(L, eq != NULL && eq != e, 2, "opts.env entries are NAME=VALUE");
            size_t k = 0;
            while (k < n && !(strncmp(env[k], e, (size_t)(eq - e) + 1) == 0))
                k++;
            env[k] = (char *)(uintptr_t)e; /* kept alive by opts.env */
            if (k == n)
                n++;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    env[n] = NULL;
    return env;
}

/* proc.spawn(argv [, opts]) -> p | nil, msg, code */
static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int opts = lua_isnoneornil(L, 2) ? 0 : 2;
    if (opts != 0)
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n < MAX_ARGS, 1, "argv must have 1 to 4095 entries");
    const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        argv[i - 1] = luaL_checkstring(L, -1); /* the table keeps the string alive */
        lua_pop(L, 1);
    }
    argv[n] = NULL;
    int channel = 0;
    if (opts != 0) {
        lua_getfield(L, opts, "channel");
        channel = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    char **env = build_env(L, opts);

    l_proc *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    for (int s = 0; s < S_COUNT; s++)
        p->fd[s] = -1;
    p->status = -1;
    luaL_setmetatable(L, CW_PROC);

    /* pipes[s] = { read end (ours), write end (the child's) }; errp: exec's errno, if any */
    int pipes[S_COUNT][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    int errp[2] = {-1, -1};
    int err = 0;
    for (int s = 0; s < S_COUNT && err == 0; s++) {
        if (s == S_CHAN && !channel)
            continue;
        if (cloexec_pipe(pipes[s]) != 0)
            err = errno;
    }
    if (err == 0 && cloexec_pipe(errp) != 0)
        err = errno;
    if (err != 0) {
        for (int s = 0; s < S_COUNT; s++)
            for (int k = 0; k < 2; k++)
                if (pipes[s][k] >= 0)
                    close(pipes[s][k]);
        for (int k = 0; k < 2; k++)
            if (errp[k] >= 0)
                close(errp[k]);
        return pushfail(L, "pipe", err);
    }

    /* No signal handler of ours runs in the child between fork and exec. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0 && nul != 0) {
            dup2(nul, 0);
            close(nul);
        }
        dup2(pipes[S_OUT][1], 1);
        dup2(pipes[S_ERR][1], 2);
        if (channel)
            dup2(pipes[S_CHAN][1], CHANNEL_FD); /* dup2 clears close-on-exec */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(argv[0], (char *const *)(void *)argv, env);
        int e = errno;
        ssize_t w = write(errp[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    err = pid < 0 ? errno : 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int s = 0; s < S_COUNT; s++)
        if (pipes[s][1] >= 0)
            close(pipes[s][1]);
    close(errp[1]);
    if (pid > 0) {
        int e = 0;
        ssize_t r;
        do
            r = read(errp[0], &e, sizeof e);
        while (r < 0 && errno == EINTR);
        if (r == (ssize_t)sizeof e) { /* exec failed: the child has ended */
            err = e;
            waitpid(pid, NULL, 0);
            pid = -1;
        }
    }
    close(errp[0]);
    if (pid < 0) {
        for (int s = 0; s < S_COUNT; s++)
            if (pipes[s][0] >= 0)
                close(pipes[s][0]);
        return pushfail(L, argv[0], err);
    }
    p->pid = pid;
    for (int s = 0; s < S_COUNT; s++) {
        p->fd[s] = pipes[s][0];
        if (p->fd[s] >= 0)
            fcntl(p->fd[s], F_SETFL, fcntl(p->fd[s], F_GETFL) | O_NONBLOCK);
    }
    return 1;
}

/* proc.poll(procs, timeout_ms) -> boolean */
static int l_poll(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer timeout = luaL_checkinteger(L, 2);
    luaL_argcheck(L, timeout >= 0 && timeout <= MAX_TIMEOUT, 2, "must be 0 to 60000 ms");
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 0 && n <= MAX_PROCS, 1, "at most 256 processes");
    l_proc *procs[MAX_PROCS];
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        procs[i - 1] = checkproc(L, -1); /* the table keeps it alive */
        lua_pop(L, 1);
    }
    struct pollfd fds[MAX_PROCS * S_COUNT];
    int owner[MAX_PROCS * S_COUNT], stream[MAX_PROCS * S_COUNT];
    nfds_t nfds = 0;
    int happened = 0;
    for (lua_Integer i = 0; i < n; i++) {
        l_proc *p = procs[i];
        int open_fds = 0;
        for (int s = 0; s < S_COUNT; s++) {
            if (p->fd[s] < 0)
                continue;
            fds[nfds] = (struct pollfd){.fd = p->fd[s], .events = POLLIN, .revents = 0};
            owner[nfds] = (int)i;
            stream[nfds] = s;
            nfds++;
            open_fds++;
        }
        /* an exit with every pipe already at its end is news by itself */
        if (open_fds == 0 && p->status < 0 && reap(p))
            happened = 1;
    }
    if (happened)
        timeout = 0;
    /* Children end without closing their pipes first only when something else holds them;
     * looking for ended children every 100 ms keeps status() honest then, and lets a pending
     * signal be seen. */
    int wait_ms = timeout > 100 ? 100 : (int)timeout;
    int r = poll(fds, nfds, wait_ms);
    if (r < 0) {
        if (errno == EINTR) {
            lua_pushboolean(L, happened);
            return 1;
        }
        return luaL_error(L, "proc.poll: %s", strerror(errno));
    }
    for (nfds_t k = 0; k < nfds && r > 0; k++) {
        if (fds[k].revents == 0)
            continue;
        if (drain(procs[owner[k]], stream[k]) != 0)
            return luaL_error(L, "proc.poll: a child wrote more than %d MiB unread",
                              MAX_BUFFERED >> 20);
        happened = 1;
    }
    for (lua_Integer i = 0; i < n; i++) {
        l_proc *p = procs[i];
        int open_fds = 0;
        for (int s = 0; s < S_COUNT; s++)
            open_fds += p->fd[s] >= 0;
        if (open_fds == 0 && p->status < 0 && reap(p))
            happened = 1;
    }
    lua_pushboolean(L, happened);
    return 1;
}

/* p:take(stream) -> string */
static int l_take(lua_State *L)
{
    l_proc *p = checkproc(L, 1);
    int s = luaL_checkoption(L, 2, NULL, stream_names);
    lua_pushlstring(L, p->buf[s].data ? p->buf[s].data : "", p->buf[s].len);
    p->buf[s].len = 0;
    return 1;
}

/* p:status() -> nil | exit status */
static int l_status(lua_State *L)
{
    l_proc *p = checkproc(L, 1);
    for (int s = 0; s < S_COUNT; s++)
        if (p->fd[s] >= 0) {
            lua_pushnil(L);
            return 1;
        }
    if (!reap(p)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, p->status);
    return 1;
}

/* p:kill(signo) -> true | nil, msg, code */
static int l_kill(lua_State *L)
{
    l_proc *p = checkproc(L, 1);
    lua_Integer sig = luaL_checkinteger(L, 2);
    luaL_argcheck(L, sig == SIGINT || sig == SIGTERM || sig == SIGKILL, 2,
                  "must be 2 (SIGINT), 15 (SIGTERM) or 9 (SIGKILL)");
    if (p->pid <= 0 || reap(p)) {
        lua_pushboolean(L, 1); /* it has ended: nothing to stop */
        return 1;
    }
    if (kill(p->pid, (int)sig) != 0)
        return pushfail(L, "kill", errno);
    lua_pushboolean(L, 1);
    return 1;
}

static int channel_fd = -1;

/* proc.channel_open() -> boolean */
static int l_channel_open(lua_State *L)
{
    if (channel_fd < 0) {
        const char *v = getenv("CWLUA_WORKER_FD");
        char *end = NULL;
        long fd = v != NULL ? strtol(v, &end, 10) : -1;
        if (v != NULL && *v != '\0' && *end == '\0' && fd >= 3 && fd < 1024 &&
            fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0)
            channel_fd = (int)fd;
        unsetenv("CWLUA_WORKER_FD");
    }
    lua_pushboolean(L, channel_fd >= 0);
    return 1;
}

/* proc.channel_write(text) -> true | nil, msg, code */
static int l_channel_write(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (channel_fd < 0)
        return luaL_error(L, "proc.channel_write: no channel (proc.channel_open first)");
    while (len > 0) {
        ssize_t n = write(channel_fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return pushfail(L, "channel", n < 0 ? errno : EPIPE);
        s += n;
        len -= (size_t)n;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, checkproc(L, 1)->pid);
    return 1;
}

int luaopen_cwlua_core_proc(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"take", l_take}, {"status", l_status}, {"kill", l_kill},
        {"pid", l_pid},   {"close", l_gc},      {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {{"spawn", l_spawn},
                                     {"poll", l_poll},
                                     {"channel_open", l_channel_open},
                                     {"channel_write", l_channel_write},
                                     {NULL, NULL}};
    luaL_newmetatable(L, CW_PROC);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    lua_pushinteger(L, MAX_PROCS);
    lua_setfield(L, -2, "MAX");
    return 1;
}

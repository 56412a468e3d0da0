/* SPDX-License-Identifier: MIT */
/* The helpers' shared command line and COMMAND runner (tool.h). */
#include "tool.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

const char *tool_prog = "cwlua";

/* "<prog>: <message>" on stderr, without the end of the line */
static void report(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", tool_prog);
    vfprintf(stderr, fmt, ap);
}

void tool_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(fmt, ap);
    va_end(ap);
    fprintf(stderr, "; run '%s --help' for usage\n", tool_prog);
    exit(EXIT_USAGE);
}

void tool_setup_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(EXIT_SETUP);
}

void tool_help_or_dashdash(int argc, char **argv, void (*usage)(void))
{
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            usage();
            exit(0);
        }
        if (strcmp(argv[k], "--") == 0)
            return;
    }
    tool_usage_error("missing '--' before the command to run");
}

const char *tool_option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc || strcmp(argv[*i + 1], "--") == 0)
        tool_usage_error("option %s needs a value", name);
    return argv[++*i];
}

void tool_once(const char *name, const char *old, const char *value)
{
    if (old != NULL)
        tool_usage_error("option '%s' is given twice ('%s' and '%s'); give it once", name, old,
                         value);
}

/* ---- COMMAND's environment ------------------------------------------------------------------ */

extern char **environ;

void tool_env_init(tool_env *e)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    e->v = calloc(n + 8, sizeof *e->v); /* room for every entry tool_env_set may add */
    if (e->v == NULL)
        tool_setup_error("out of memory");
    memcpy(e->v, environ, n * sizeof *e->v);
    e->n = n;
    e->n_owned = 0;
}

void tool_env_free(tool_env *e)
{
    for (size_t i = 0; i < e->n_owned; i++)
        free(e->owned[i]);
    free(e->v);
}

void tool_env_set(tool_env *e, const char *name, const char *value)
{
    size_t len = strlen(name);
    char *entry = NULL;
    if (value != NULL) {
        entry = malloc(len + strlen(value) + 2);
        if (entry == NULL || e->n_owned == sizeof e->owned / sizeof e->owned[0])
            tool_setup_error("out of memory");
        sprintf(entry, "%s=%s", name, value);
        e->owned[e->n_owned++] = entry;
    }
    for (size_t i = 0; i < e->n; i++) {
        if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=') {
            if (entry != NULL) {
                e->v[i] = entry;
            } else {
                memmove(e->v + i, e->v + i + 1, (e->n - i) * sizeof *e->v);
                e->n--;
            }
            return;
        }
    }
    if (entry != NULL)
        e->v[e->n++] = entry;
    e->v[e->n] = NULL;
}

#define ASAN_LINK_ORDER "verify_asan_link_order=0"

void tool_env_asan(tool_env *e)
{
    char buf[4096];
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan == NULL || *asan == '\0') {
        tool_env_set(e, "ASAN_OPTIONS", ASAN_LINK_ORDER);
    } else if (strstr(asan, "verify_asan_link_order") == NULL) {
        snprintf(buf, sizeof buf, "%s:%s", asan, ASAN_LINK_ORDER);
        tool_env_set(e, "ASAN_OPTIONS", buf);
    }
}

/* ---- COMMAND -------------------------------------------------------------------------------- */

static volatile sig_atomic_t child_pid;      /* 0 until COMMAND runs */
static volatile sig_atomic_t pending_signal; /* a signal that came before it did */

/* A signal from the terminal has si_code SI_KERNEL: it reached COMMAND already. */
static void forward_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (child_pid <= 0)
        pending_signal = sig;
    else if (info == NULL || info->si_code != SI_KERNEL)
        kill((pid_t)child_pid, sig);
}

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

void tool_forward_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaction(forwarded_signals[i], &sa, NULL);
}

/* Starts COMMAND; returns its pid, or -1 with an errno-style code in *err. */
static pid_t spawn_command(char **command, char **env, int *err)
{
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(&dflt, forwarded_signals[i]);
    sigaddset(&dflt, SIGPIPE); /* GLib or we may ignore it; COMMAND starts with the default */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    *err = posix_spawnp(&pid, command[0], NULL, &attr, command, env);
    posix_spawnattr_destroy(&attr);
    return *err == 0 ? pid : -1;
}

int tool_exit_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int wait_command(pid_t pid, void *ctx)
{
    (void)ctx;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return EXIT_SETUP;
    }
    return tool_exit_status(status);
}

int tool_run(char **command, char **env, int (*waiter)(pid_t pid, void *ctx), void *ctx)
{
    int spawn_err = 0;
    pid_t pid = -1;
    if (pending_signal == 0) /* else we were told to stop during set-up: COMMAND never runs */
        pid = spawn_command(command, env, &spawn_err);
    if (pending_signal != 0 && pid < 0)
        return 128 + pending_signal;
    if (pid < 0) {
        fprintf(stderr, "%s: cannot run '%s' (%s)\n", tool_prog, command[0], strerror(spawn_err));
        return spawn_err == ENOENT ? EXIT_NOTFND : EXIT_NOEXEC;
    }
    child_pid = pid;
    if (pending_signal != 0)
        kill(pid, pending_signal);
    return (waiter != NULL ? waiter : wait_command)(pid, ctx);
}

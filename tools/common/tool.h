/* SPDX-License-Identifier: MIT */
/* What the helpers that run a COMMAND (cwlua-sim-attach, cwlua-sim-adapter; contract.md §5)
 * share: their exit statuses, their two kinds of failure with the wording of cwlua's own
 * command line (contract.md §3.1), their option reading, and running COMMAND under umockdev's
 * preload with signals passed on. One piece of code, so that `cwlua sim attach` and
 * `cwlua sim adapter` fail, stop and report COMMAND's status the same way. */
#ifndef CWLUA_TOOLS_COMMON_TOOL_H
#define CWLUA_TOOLS_COMMON_TOOL_H

#include <stddef.h>
#include <sys/types.h>

#define EXIT_USAGE  2
#define EXIT_SETUP  3
#define EXIT_NOEXEC 126 /* as env(1) and the shell */
#define EXIT_NOTFND 127

/* umockdev's preload library (test-harnesses.md §1.1): what umockdev-wrapper puts in LD_PRELOAD */
#define PRELOAD_LIB "libumockdev-preload.so.0"

/* The program's name in its messages ("cwlua sim attach"); main sets it before anything else. */
extern const char *tool_prog;

/* "<prog>: <message>; run '<prog> --help' for usage", exit 2. */
__attribute__((format(printf, 1, 2), noreturn)) void tool_usage_error(const char *fmt, ...);
/* "<prog>: <message>", exit 3: the simulator or the mock devices could not be set up. */
__attribute__((format(printf, 1, 2), noreturn)) void tool_setup_error(const char *fmt, ...);

/* Before the options are read: -h or --help before "--" calls usage() and exits 0; without a
 * "--" it is a usage error, checked first, else COMMAND's name would be taken for an
 * argument of ours (a board, a part). */
void tool_help_or_dashdash(int argc, char **argv, void (*usage)(void));
/* --name VALUE or --name=VALUE at argv[*i]: returns the value and advances *i, or NULL if the
 * argument is not that option. A missing value (the end, or "--") is a usage error. */
const char *tool_option_value(int argc, char **argv, int *i, const char *name);
/* An option that is not repeatable, given twice (old: its first value, or NULL): the second
 * value would win unseen, a usage error. */
void tool_once(const char *name, const char *old, const char *value);

/* An environment being built for COMMAND: a copy of ours with some entries replaced. */
typedef struct tool_env {
    char **v;       /* NULL-terminated */
    size_t n;       /* entries before the NULL */
    char *owned[8]; /* the entries tool_env_set made */
    size_t n_owned;
} tool_env;

void tool_env_init(tool_env *e);
void tool_env_free(tool_env *e);
/* NAME=VALUE, replacing any NAME= already there; a NULL value removes it. */
void tool_env_set(tool_env *e, const char *name, const char *value);
/* ASan refuses to start when another library is preloaded before it (test-harnesses.md §1.4
 * gotcha 4): a sanitizer build of COMMAND runs under the preload with its link-order check
 * off, added to the caller's ASAN_OPTIONS unless they say otherwise. */
void tool_env_asan(tool_env *e);

/* From the start of main: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to us alone (kill, a test
 * runner's timeout) are passed on to COMMAND once it runs; one from the terminal went to
 * COMMAND as well, which is in our process group. Before COMMAND runs, any of them stops the
 * set-up: tool_run then never starts it. */
void tool_forward_signals(void);
/* Run command with env and wait for it with waiter(pid, ctx) (NULL: just wait). Returns the
 * status to exit with: COMMAND's as a shell gives it (tool_exit_status), 128+N when signal N
 * came before it ran, 126/127 when it could not be run / was not found (with a message). */
int tool_run(char **command, char **env, int (*waiter)(pid_t pid, void *ctx), void *ctx);
/* A waitpid status as a shell gives it: the exit code, or 128+N for signal N. */
int tool_exit_status(int status);

#endif

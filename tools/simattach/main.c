/* SPDX-License-Identifier: MIT */
/* cwlua-sim-attach: runs a command with simulated ChipWhisperer boards on a mock USB bus. This
 * is `cwlua sim attach` (contract.md §5): the cwlua binary execs this helper, which is installed
 * beside it, so that cwlua itself needs neither GLib nor umockdev (contract.md §2).
 *
 * The helper builds the boards with libcwsim, puts them on a umockdev testbed (simbus.c), and
 * runs COMMAND with umockdev's preload library (as umockdev-wrapper does), so every libusb-1.0
 * program COMMAND starts finds the boards under their real IDs and strings. Exit status:
 * COMMAND's, 128+N if it died of signal N; 2 usage error; 3 set-up failure; 126/127 COMMAND
 * could not be run / was not found (as env(1)). */
#include "cwsim.h"
#include "simbus.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG "cwlua sim attach"

#define EXIT_USAGE  2
#define EXIT_SETUP  3
#define EXIT_NOEXEC 126 /* as env(1) and the shell */
#define EXIT_NOTFND 127

#define MAX_SPECS  32 /* simbus.c: bus 1 has room for 32 boards */
#define MAX_FAULTS 64
#define SERIAL_MAX 126 /* a USB string descriptor holds at most 126 UTF-16 characters */

/* umockdev's preload library (test-harnesses.md §1.1): what umockdev-wrapper puts in LD_PRELOAD */
#define PRELOAD_LIB "libumockdev-preload.so.0"

/* ASan refuses to start when another library is preloaded before it (test-harnesses.md §1.4
 * gotcha 4); sanitizer builds of a client run under the preload with this option. */
#define ASAN_LINK_ORDER "verify_asan_link_order=0"

/* Set in our environment when we re-executed ourselves under the preload (reexec_preloaded). */
#define REEXEC_MARK "CWLUA_SIM_ATTACH_REEXEC"

extern char **environ;

typedef struct spec {
    const char *arg;  /* as given */
    char board[16];   /* cwlite, cw1200, husky, nano */
    char part[64];    /* the target chip, "" if none (cwsim_attach_part) */
    char serial[128]; /* "" for the simulator's default */
    cwsim_kind kind;
} spec;

typedef struct options {
    spec specs[MAX_SPECS];
    size_t n_specs;
    /* the --sim-* options (cwsim_option_table): each as given, to name one given twice */
    const char *given[CWSIM_OPT_COUNT];
    const char *faults[MAX_FAULTS]; /* NAME or NAME=VALUE, as given */
    size_t n_faults;
    unsigned long long seed;
    bool have_seed;
    double latency_ms;
    double noise;
    bool have_noise;
    const char *state_dir;
    const char *target; /* the chip of a board whose SPEC names none; NULL: no chip */
    const char *app;    /* every chip's application model; NULL: the default */
    char **command;
} options;

static const char usage_head[] =
    "Run COMMAND with simulated ChipWhisperer boards on a mock USB bus (umockdev). Every\n"
    "libusb-1.0 program it starts (cwlua, pyusb or python-libusb1 scripts, NewAE's tools) sees\n"
    "the boards with their real vendor/product IDs, strings and descriptors, answered by the\n"
    "simulator in real time.\n"
    "\n"
    "SPEC is BOARD[:PART][@SERIAL]; give several for several boards:\n"
    "  BOARD   cwlite, cw1200, husky or nano\n"
    "  PART    target chip wired to the board: a part (stm32f100xb), a recipe name\n"
    "          (stm32f1) or a ChipWhisperer alias (CW308_STM32F1), or loopback\n"
    "  SERIAL  USB serial number (default: a distinct one per board)\n"
    "\n"
    "options (the --sim-* options of cwlua -d sim; --sim-target is the chip of each board\n"
    "whose SPEC names none, --sim-app the application of every chip):\n";

static const char usage_tail[] =
    "  -h, --help                show this help\n"
    "\n"
    "environment: CWLUA_SIM_TRACE=1 prints every USB request the boards answer on stderr.\n"
    "\n"
    "exit status: COMMAND's (128+N if it died of signal N); 2 usage error; 3 the simulator\n"
    "or the mock bus could not be set up; 126/127 COMMAND could not be run / was not found.\n"
    "\n"
    "examples:\n"
    "  cwlua sim attach cwlite@50203120 cw1200 -- python3 -c \\\n"
    "      'import usb.core; print([d.serial_number for d in usb.core.find(find_all=True)])'\n"
    "  cwlua sim attach --sim-app ss1-aes --sim-noise 0.02 cwlite:stm32f1 -- ./capture.py\n";

/* The help: its usage line and option list come from the --sim-* table, as cwlua's own do. The
 * usage line breaks before an option past 100 columns, as cwlua's (cli.lua wrap_usage). */
static void usage(void)
{
    size_t n = 0;
    const cwsim_option_info *t = cwsim_option_table(&n);
    const char *indent = "                        "; /* under the first argument */
    size_t col = (size_t)printf("usage: cwlua sim attach");
    for (size_t i = 0; i < n; i++) {
        char part[96];
        int len = snprintf(part, sizeof part, "[--%s %s]%s", t[i].name, t[i].arg,
                           t[i].multi ? "..." : "");
        if (col + 1 + (size_t)len > 100)
            col = (size_t)printf("\n%s", indent) - 1;
        else
            col += (size_t)printf(" ");
        col += (size_t)printf("%s", part);
    }
    const char *rest = "SPEC... -- COMMAND [ARGS...]";
    if (col + 1 + strlen(rest) > 100)
        printf("\n%s%s\n\n", indent, rest);
    else
        printf(" %s\n\n", rest);
    fputs(usage_head, stdout);
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", t[i].name, t[i].arg);
        const char *h = t[i].help;
        int first = 1;
        while (*h != '\0') {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            printf("  %-24s  %.*s\n", first ? left : "", len, h);
            first = 0;
            h += len + (nl != NULL);
        }
    }
    fputs(usage_tail, stdout);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; run '" PROG " --help' for usage\n");
    exit(EXIT_USAGE);
}

static void setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void setup_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(EXIT_SETUP);
}

/* PART: a part, recipe name or ChipWhisperer alias such as stm32f100xb, stm32f1 or
 * CW308_STM32F1 (contract.md §3, §5); whether it exists is checked when the chip is attached. */
static bool valid_part(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

/* SERIAL: what a USB string descriptor and the sysfs "serial" attribute can carry unchanged. */
static bool valid_serial(const char *s)
{
    if (*s == '\0' || strlen(s) > SERIAL_MAX)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~')
            return false;
    return true;
}

static void parse_spec(spec *sp, const char *arg)
{
    sp->arg = arg;
    const char *at = strchr(arg, '@');
    const char *colon = strchr(arg, ':');
    if (colon != NULL && at != NULL && colon > at)
        colon = NULL; /* a ':' inside the serial */
    const char *board_end = colon ? colon : at ? at : arg + strlen(arg);
    size_t blen = (size_t)(board_end - arg);
    if (blen == 0)
        usage_error("'%s': no board named (expected BOARD[:PART][@SERIAL])", arg);
    if (blen >= sizeof sp->board)
        blen = sizeof sp->board - 1; /* too long to be a board: fails below */
    memcpy(sp->board, arg, blen);
    sp->board[blen] = '\0';
    if (cwsim_kind_from_name(sp->board, &sp->kind) != 0)
        usage_error("unknown board '%.*s' in '%s' (expected cwlite, cw1200, husky or nano)",
                    (int)(board_end - arg), arg, arg);
    if (colon != NULL) {
        const char *pend = at ? at : arg + strlen(arg);
        size_t plen = (size_t)(pend - colon - 1);
        if (plen == 0 || plen >= sizeof sp->part)
            usage_error("'%s': bad part name (expected a lower-case name such as stm32f100xb)",
                        arg);
        memcpy(sp->part, colon + 1, plen);
        sp->part[plen] = '\0';
        if (!valid_part(sp->part))
            usage_error("'%s': bad part name '%s' (expected a lower-case name such as "
                        "stm32f100xb)",
                        arg, sp->part);
    }
    if (at != NULL) {
        if (!valid_serial(at + 1))
            usage_error("'%s': bad serial number (1 to %d printable ASCII characters, no spaces)",
                        arg, SERIAL_MAX);
        snprintf(sp->serial, sizeof sp->serial, "%s", at + 1);
    }
}

/* --name VALUE or --name=VALUE: returns the value and advances *i, or NULL if arg is not it. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
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
        usage_error("option %s needs a value", name);
    return argv[++*i];
}

/* "--sim-seed" for an option of the table */
static const char *argv_name(const cwsim_option_info *opt)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "--%s", opt->name);
    return buf;
}

/* An option that is not repeatable, given twice: the second value would win unseen (the
 * wording of cwlua's own command line, contract.md §3.1). */
static void once(const char *name, const char *old, const char *value)
{
    if (old != NULL)
        usage_error("option '%s' is given twice ('%s' and '%s'); give it once", name, old, value);
}

/* One --sim-* option with its value (cwsim_option_table; -d sim gives each the same meaning). */
static void take_option(options *o, const cwsim_option_info *opt, const char *v)
{
    if (!opt->multi)
        once(argv_name(opt), o->given[opt->id], v);
    o->given[opt->id] = v;
    switch (opt->id) {
    case CWSIM_OPT_TARGET:
        if (!valid_part(v))
            usage_error("--sim-target '%s': bad part name (expected a name such as stm32f100xb)",
                        v);
        o->target = v;
        break;
    case CWSIM_OPT_STATE:
        if (*v == '\0')
            usage_error("--sim-state: expected a folder");
        o->state_dir = v;
        break;
    case CWSIM_OPT_FAULT:
        if (o->n_faults == MAX_FAULTS)
            usage_error("too many --sim-fault options (at most %d)", MAX_FAULTS);
        if (v[0] == '\0' || v[0] == '=')
            usage_error("--sim-fault '%s': no fault named (expected NAME[=VALUE])", v);
        o->faults[o->n_faults++] = v;
        break;
    case CWSIM_OPT_USB_LATENCY: {
        char msg[256];
        if (cwsim_usb_latency_parse(v, &o->latency_ms, msg, sizeof msg) != 0)
            usage_error("%s", msg); /* the same line as in-process cwlua (cwsim.h) */
        break;
    }
    case CWSIM_OPT_SEED: {
        char *end;
        errno = 0;
        o->seed = strtoull(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE)
            usage_error("--sim-seed '%s': expected a non-negative integer", v);
        o->have_seed = true;
        break;
    }
    case CWSIM_OPT_APP: /* checked against each chip when it is attached */
        if (*v == '\0')
            usage_error("--sim-app: expected an application model (silent, banner, ss1-aes, "
                        "ss2-aes)");
        o->app = v;
        break;
    case CWSIM_OPT_NOISE: {
        char msg[256];
        if (cwsim_noise_parse(v, &o->noise, msg, sizeof msg) != 0)
            usage_error("%s", msg); /* the same line as in-process cwlua (cwsim.h) */
        o->have_noise = true;
        break;
    }
    case CWSIM_OPT_COUNT:
        break;
    }
}

static void parse_args(int argc, char **argv, options *o)
{
    o->latency_ms = 0.5; /* contract.md §5: a control transfer costs 0.5 ms by default */
    int dashdash = 0;
    for (int k = 1; k < argc && dashdash == 0; k++) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            usage();
            exit(0);
        }
        if (strcmp(argv[k], "--") == 0)
            dashdash = k;
    }
    if (dashdash == 0) /* checked first: else the command would be taken for a board */
        usage_error("missing '--' before the command to run");
    size_t nopts = 0;
    const cwsim_option_info *opts = cwsim_option_table(&nopts);
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        if (strcmp(arg, "--") == 0)
            break;
        size_t k = 0;
        for (; k < nopts && v == NULL; k++) {
            char name[64];
            snprintf(name, sizeof name, "--%s", opts[k].name);
            v = option_value(argc, argv, &i, name);
        }
        if (v != NULL) {
            take_option(o, &opts[k - 1], v);
        } else if (arg[0] == '-') {
            usage_error("unknown option '%s'", arg);
        } else {
            if (o->n_specs == MAX_SPECS)
                usage_error("too many boards (at most %d)", MAX_SPECS);
            parse_spec(&o->specs[o->n_specs++], arg);
        }
    }
    if (o->n_specs == 0)
        usage_error("no board given (a SPEC such as cwlite comes before '--')");
    if (i + 1 >= argc)
        usage_error("no command after '--'");
    o->command = argv + i + 1;
    for (size_t a = 0; a < o->n_specs; a++)
        for (size_t b = 0; b < a; b++)
            if (o->specs[a].serial[0] && strcmp(o->specs[a].serial, o->specs[b].serial) == 0)
                usage_error("serial number '%s' given to two boards", o->specs[a].serial);
    /* contract.md §5: an application model needs a chip (as -d sim without --sim-target) */
    bool chip = o->target != NULL;
    for (size_t a = 0; a < o->n_specs; a++)
        chip = chip || o->specs[a].part[0] != '\0';
    if (o->app != NULL && !chip)
        usage_error("--sim-app needs a chip: give a SPEC a PART (cwlite:stm32f1) or add "
                    "--sim-target PART");
}

/* ---------------------------------------------------------------------------------------------
 * COMMAND
 * ------------------------------------------------------------------------------------------- */

static volatile sig_atomic_t child_pid;      /* 0 until COMMAND runs */
static volatile sig_atomic_t pending_signal; /* a signal that came before it did */

/* Passes on a signal someone sent to us alone (kill, a test runner's timeout). A signal from
 * the terminal (si_code SI_KERNEL) went to COMMAND as well, which is in our process group.
 * Before COMMAND runs, any of them stops the set-up: COMMAND is then never started. */
static void forward_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (child_pid <= 0)
        pending_signal = sig;
    else if (info == NULL || info->si_code != SI_KERNEL)
        kill((pid_t)child_pid, sig);
}

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void install_forwarding(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaction(forwarded_signals[i], &sa, NULL);
}

/* An environment being built: a copy of ours with some entries replaced. */
typedef struct envbuf {
    char **v;       /* NULL-terminated */
    size_t n;       /* entries before the NULL */
    char *owned[8]; /* the entries env_set made */
    size_t n_owned;
} envbuf;

static void env_init(envbuf *e)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    e->v = calloc(n + 8, sizeof *e->v); /* room for every entry env_set may add */
    if (e->v == NULL)
        setup_error("out of memory");
    memcpy(e->v, environ, n * sizeof *e->v);
    e->n = n;
    e->n_owned = 0;
}

static void env_free(envbuf *e)
{
    for (size_t i = 0; i < e->n_owned; i++)
        free(e->owned[i]);
    free(e->v);
}

/* NAME=VALUE, replacing any NAME= already there; a NULL value removes it. */
static void env_set(envbuf *e, const char *name, const char *value)
{
    size_t len = strlen(name);
    char *entry = NULL;
    if (value != NULL) {
        entry = malloc(len + strlen(value) + 2);
        if (entry == NULL || e->n_owned == sizeof e->owned / sizeof e->owned[0])
            setup_error("out of memory");
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

static bool preloaded(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, PRELOAD_LIB) != NULL;
}

/* Our environment with umockdev's preload in front of LD_PRELOAD and ASan's link-order check
 * off; root: the testbed for UMOCKDEV_DIR, or NULL. */
static void preload_environment(envbuf *e, const char *root)
{
    env_init(e);
    char buf[4096];
    if (!preloaded()) {
        const char *preload = getenv("LD_PRELOAD");
        if (preload != NULL && *preload != '\0')
            snprintf(buf, sizeof buf, "%s:%s", PRELOAD_LIB, preload);
        else
            snprintf(buf, sizeof buf, "%s", PRELOAD_LIB);
        env_set(e, "LD_PRELOAD", buf);
    }
    if (root != NULL)
        env_set(e, "UMOCKDEV_DIR", root);
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan == NULL || *asan == '\0') {
        env_set(e, "ASAN_OPTIONS", ASAN_LINK_ORDER);
    } else if (strstr(asan, "verify_asan_link_order") == NULL) {
        snprintf(buf, sizeof buf, "%s:%s", asan, ASAN_LINK_ORDER);
        env_set(e, "ASAN_OPTIONS", buf);
    }
}

/* The helper itself runs under umockdev's preload too: then umockdev's libudev calls in this
 * process see the mock sysfs, so plugging a board in or out (unplug-after, the re-enumeration
 * after 0x22/0x10 RESET) reaches the client's libusb as a hotplug uevent. Re-exec once; if
 * that is impossible, go on without (boards still work, only hotplug events are missing). */
static void reexec_preloaded(char **argv)
{
    if (preloaded() || getenv(REEXEC_MARK) != NULL)
        return;
    envbuf e;
    preload_environment(&e, NULL);
    env_set(&e, REEXEC_MARK, "1");
    execve("/proc/self/exe", argv, e.v);
    env_free(&e);
}

/* Starts COMMAND; returns its pid, or -1 with errno-style code in *err. */
static pid_t spawn_command(char **command, char **env, int *err)
{
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(&dflt, forwarded_signals[i]);
    sigaddset(&dflt, SIGPIPE); /* GLib may ignore it; COMMAND starts with the default */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    *err = posix_spawnp(&pid, command[0], NULL, &attr, command, env);
    posix_spawnattr_destroy(&attr);
    return *err == 0 ? pid : -1;
}

static int wait_command(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return EXIT_SETUP;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

int main(int argc, char **argv)
{
    static options o;
    install_forwarding(); /* from the start: a signal during set-up still ends in clean-up */
    parse_args(argc, argv, &o);
    reexec_preloaded(argv);

    char err[512] = "";
    cwsim *sim = NULL;
    if (cwsim_new(&sim, err, sizeof err) != 0)
        setup_error("cannot start the simulator (%s)", err);
    if (o.have_seed)
        cwsim_seed(sim, (uint64_t)o.seed);
    if (o.have_noise)
        cwsim_set_noise(sim, o.noise);
    /* Faults first: they apply to every board, also to what a board is when it is plugged in
     * (fpga-unprogrammed, old-firmware). */
    for (size_t i = 0; i < o.n_faults; i++) {
        if (cwsim_fault_parse(sim, o.faults[i], err, sizeof err) != 0) {
            cwsim_free(sim);
            usage_error("--sim-fault %s: %s", o.faults[i], err);
        }
    }
    /* Chip memories persist in the state folder, locked while in use (contract.md §5). */
    if (cwsim_state_open(sim, o.state_dir, err, sizeof err) != 0) {
        cwsim_free(sim);
        setup_error("%s", err);
    }

    cwsim_board *boards[MAX_SPECS];
    for (size_t i = 0; i < o.n_specs; i++) {
        const spec *sp = &o.specs[i];
        boards[i] =
            cwsim_board_add(sim, sp->kind, sp->serial[0] ? sp->serial : NULL, err, sizeof err);
        if (boards[i] == NULL) {
            cwsim_free(sim);
            usage_error("cannot add board '%s' (%s)", sp->arg, err);
        }
        /* the chip on the board: a part, recipe name or alias (contract.md §5); the SPEC's,
         * else --sim-target's; running --sim-app's application */
        const char *part = sp->part[0] ? sp->part : o.target;
        if (part != NULL && cwsim_attach_part(boards[i], part, o.app, err, sizeof err) != 0) {
            cwsim_free(sim);
            usage_error("'%s': %s", sp->arg, err);
        }
    }

    const char *trace = getenv("CWLUA_SIM_TRACE");
    sa_bus_options bo = {
        .usb_latency_ms = o.latency_ms,
        .trace = trace != NULL && *trace != '\0' && strcmp(trace, "0") != 0 ? stderr : NULL};
    sa_bus *bus = NULL;
    if (sa_bus_new(&bus, sim, &bo, err, sizeof err) != 0) {
        cwsim_free(sim);
        setup_error("cannot create the mock USB bus (%s)", err);
    }
    for (size_t i = 0; i < o.n_specs; i++) {
        if (sa_bus_add_board(bus, boards[i], err, sizeof err) != 0) {
            sa_bus_free(bus);
            cwsim_free(sim);
            setup_error("cannot attach board '%s' (%s)", o.specs[i].arg, err);
        }
        if (bo.trace != NULL) {
            const char *part = o.specs[i].part[0] ? o.specs[i].part : o.target;
            fprintf(stderr, "[sim %s] %s serial %s%s%s%s%s\n", sa_bus_devnode(bus, i) + 13,
                    o.specs[i].board, cwsim_board_serial(boards[i]), part ? " part " : "",
                    part ? part : "", part && o.app ? " app " : "", part && o.app ? o.app : "");
        }
    }

    /* COMMAND's environment: ours with the preload, the testbed and ASan's link-order check
     * off, without our re-exec mark */
    envbuf env;
    preload_environment(&env, sa_bus_root_dir(bus));
    env_set(&env, REEXEC_MARK, NULL);
    if (sa_bus_start(bus, err, sizeof err) != 0) {
        sa_bus_free(bus);
        cwsim_free(sim);
        setup_error("%s", err);
    }

    int spawn_err = 0;
    pid_t pid = -1;
    if (pending_signal == 0) /* else we were told to stop during set-up: COMMAND never runs */
        pid = spawn_command(o.command, env.v, &spawn_err);
    env_free(&env);
    int status;
    if (pending_signal != 0 && pid < 0) {
        status = 128 + pending_signal;
    } else if (pid < 0) {
        fprintf(stderr, PROG ": cannot run '%s' (%s)\n", o.command[0], strerror(spawn_err));
        status = spawn_err == ENOENT ? EXIT_NOTFND : EXIT_NOEXEC;
    } else {
        child_pid = pid;
        if (pending_signal != 0)
            kill(pid, pending_signal);
        status = wait_command(pid);
    }

    sa_bus_free(bus);
    cwsim_free(sim);
    return status;
}

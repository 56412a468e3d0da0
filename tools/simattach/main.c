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
#include "statewriter.h"
#include "tool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SPECS  32 /* simbus.c: bus 1 has room for 32 boards */
#define MAX_FAULTS 64
#define SERIAL_MAX 126 /* a USB string descriptor holds at most 126 UTF-16 characters */

/* Set in our environment when we re-executed ourselves under the preload (reexec_preloaded). */
#define REEXEC_MARK "CWLUA_SIM_ATTACH_REEXEC"

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
        tool_usage_error("'%s': no board named (expected BOARD[:PART][@SERIAL])", arg);
    if (blen >= sizeof sp->board)
        blen = sizeof sp->board - 1; /* too long to be a board: fails below */
    memcpy(sp->board, arg, blen);
    sp->board[blen] = '\0';
    if (cwsim_kind_from_name(sp->board, &sp->kind) != 0)
        tool_usage_error("unknown board '%.*s' in '%s' (expected cwlite, cw1200, husky or nano)",
                         (int)(board_end - arg), arg, arg);
    if (colon != NULL) {
        const char *pend = at ? at : arg + strlen(arg);
        size_t plen = (size_t)(pend - colon - 1);
        if (plen == 0 || plen >= sizeof sp->part)
            tool_usage_error("'%s': bad part name (expected a lower-case name such as stm32f100xb)",
                             arg);
        memcpy(sp->part, colon + 1, plen);
        sp->part[plen] = '\0';
        if (!valid_part(sp->part))
            tool_usage_error("'%s': bad part name '%s' (expected a lower-case name such as "
                             "stm32f100xb)",
                             arg, sp->part);
    }
    if (at != NULL) {
        if (!valid_serial(at + 1))
            tool_usage_error(
                "'%s': bad serial number (1 to %d printable ASCII characters, no spaces)", arg,
                SERIAL_MAX);
        snprintf(sp->serial, sizeof sp->serial, "%s", at + 1);
    }
}

/* "--sim-seed" for an option of the table */
static const char *argv_name(const cwsim_option_info *opt)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "--%s", opt->name);
    return buf;
}

/* One --sim-* option with its value (cwsim_option_table; -d sim gives each the same meaning). */
static void take_option(options *o, const cwsim_option_info *opt, const char *v)
{
    if (!opt->multi)
        tool_once(argv_name(opt), o->given[opt->id], v);
    o->given[opt->id] = v;
    switch (opt->id) {
    case CWSIM_OPT_TARGET:
        if (!valid_part(v))
            tool_usage_error(
                "--sim-target '%s': bad part name (expected a name such as stm32f100xb)", v);
        o->target = v;
        break;
    case CWSIM_OPT_STATE:
        if (*v == '\0')
            tool_usage_error("--sim-state: expected a folder");
        o->state_dir = v;
        break;
    case CWSIM_OPT_FAULT:
        if (o->n_faults == MAX_FAULTS)
            tool_usage_error("too many --sim-fault options (at most %d)", MAX_FAULTS);
        if (v[0] == '\0' || v[0] == '=')
            tool_usage_error("--sim-fault '%s': no fault named (expected NAME[=VALUE])", v);
        o->faults[o->n_faults++] = v;
        break;
    case CWSIM_OPT_USB_LATENCY: {
        char msg[256];
        if (cwsim_usb_latency_parse(v, &o->latency_ms, msg, sizeof msg) != 0)
            tool_usage_error("%s", msg); /* the same line as in-process cwlua (cwsim.h) */
        break;
    }
    case CWSIM_OPT_SEED: {
        char *end;
        errno = 0;
        o->seed = strtoull(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE)
            tool_usage_error("--sim-seed '%s': expected a non-negative integer", v);
        o->have_seed = true;
        break;
    }
    case CWSIM_OPT_APP: /* checked against each chip when it is attached */
        if (*v == '\0')
            tool_usage_error("--sim-app: expected an application model (silent, banner, ss1-aes, "
                             "ss2-aes)");
        o->app = v;
        break;
    case CWSIM_OPT_NOISE: {
        char msg[256];
        if (cwsim_noise_parse(v, &o->noise, msg, sizeof msg) != 0)
            tool_usage_error("%s", msg); /* the same line as in-process cwlua (cwsim.h) */
        o->have_noise = true;
        break;
    }
    case CWSIM_OPT_COUNT:
        break;
    }
}

/* The board a --sim-fault NAME[=VALUE]@SERIAL is for, or NULL for every board; name gets
 * NAME[=VALUE]. */
static const char *fault_board(const char *fault, char *name, size_t len)
{
    const char *at = strchr(fault, '@');
    size_t n = at ? (size_t)(at - fault) : strlen(fault);
    snprintf(name, len, "%.*s", (int)n, fault);
    return at ? at + 1 : NULL;
}

static void parse_args(int argc, char **argv, options *o)
{
    o->latency_ms = 0.5; /* contract.md §5: a control transfer costs 0.5 ms by default */
    tool_help_or_dashdash(argc, argv, usage);
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
            v = tool_option_value(argc, argv, &i, name);
        }
        if (v != NULL) {
            take_option(o, &opts[k - 1], v);
        } else if (arg[0] == '-') {
            tool_usage_error("unknown option '%s'", arg);
        } else {
            if (o->n_specs == MAX_SPECS)
                tool_usage_error("too many boards (at most %d)", MAX_SPECS);
            parse_spec(&o->specs[o->n_specs++], arg);
        }
    }
    if (o->n_specs == 0)
        tool_usage_error("no board given (a SPEC such as cwlite comes before '--')");
    if (i + 1 >= argc)
        tool_usage_error("no command after '--'");
    o->command = argv + i + 1;
    for (size_t a = 0; a < o->n_specs; a++)
        for (size_t b = 0; b < a; b++)
            if (o->specs[a].serial[0] && strcmp(o->specs[a].serial, o->specs[b].serial) == 0)
                tool_usage_error("serial number '%s' given to two boards", o->specs[a].serial);
    /* --sim-fault NAME@SERIAL: a board given that serial (BOARD@SERIAL), which has a world of
     * its own for the fault to act in */
    for (size_t f = 0; f < o->n_faults; f++) {
        char name[256];
        const char *board = fault_board(o->faults[f], name, sizeof name);
        bool found = board == NULL;
        for (size_t a = 0; a < o->n_specs && !found; a++)
            found = strcmp(o->specs[a].serial, board) == 0;
        if (!found)
            tool_usage_error("--sim-fault %s: no board has the serial '%s' (give one BOARD@%s)",
                             o->faults[f], board, board);
    }
    /* contract.md §5: an application model needs a chip (as -d sim without --sim-target) */
    bool chip = o->target != NULL;
    for (size_t a = 0; a < o->n_specs; a++)
        chip = chip || o->specs[a].part[0] != '\0';
    if (o->app != NULL && !chip)
        tool_usage_error("--sim-app needs a chip: give a SPEC a PART (cwlite:stm32f1) or add "
                         "--sim-target PART");
}

static bool preloaded(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, PRELOAD_LIB) != NULL;
}

/* Our environment with umockdev's preload in front of LD_PRELOAD and ASan's link-order check
 * off; root: the testbed for UMOCKDEV_DIR, or NULL. */
static void preload_environment(tool_env *e, const char *root)
{
    tool_env_init(e);
    char buf[4096];
    if (!preloaded()) {
        const char *preload = getenv("LD_PRELOAD");
        if (preload != NULL && *preload != '\0')
            snprintf(buf, sizeof buf, "%s:%s", PRELOAD_LIB, preload);
        else
            snprintf(buf, sizeof buf, "%s", PRELOAD_LIB);
        tool_env_set(e, "LD_PRELOAD", buf);
    }
    if (root != NULL)
        tool_env_set(e, "UMOCKDEV_DIR", root);
    tool_env_asan(e);
}

/* The helper itself runs under umockdev's preload too: then umockdev's libudev calls in this
 * process see the mock sysfs, so plugging a board in or out (unplug-after, the re-enumeration
 * after 0x22/0x10 RESET) reaches the client's libusb as a hotplug uevent. Re-exec once; if
 * that is impossible, go on without (boards still work, only hotplug events are missing). */
static void reexec_preloaded(char **argv)
{
    if (preloaded() || getenv(REEXEC_MARK) != NULL)
        return;
    tool_env e;
    preload_environment(&e, NULL);
    tool_env_set(&e, REEXEC_MARK, "1");
    execve("/proc/self/exe", argv, e.v);
    tool_env_free(&e);
}

/* The mock bus is a tree of small files (each board's sysfs attributes and device node) that
 * umockdev writes one by one, each through a temporary file and a rename, in $TMPDIR: on a
 * disk, on a busy machine, that is tens of milliseconds a board before COMMAND can start. In
 * memory (/dev/shm, a tmpfs) it costs next to nothing, so the testbed goes there when it can;
 * GLib reads TMPDIR once, when umockdev first asks it. COMMAND gets the caller's TMPDIR back
 * (caller_tmpdir: its value, NULL when it was not set). */
static const char *caller_tmpdir;

static void testbed_in_memory(void)
{
    const char *shm = "/dev/shm";
    caller_tmpdir = getenv("TMPDIR");
    if (caller_tmpdir != NULL)
        caller_tmpdir = strdup(caller_tmpdir);
    if (access(shm, W_OK | X_OK) == 0)
        setenv("TMPDIR", shm, 1);
}

/* The simulated worlds: one of its own for each board given a serial (BOARD@SERIAL), with its
 * own virtual clock, its own faults and its own state folder (cwsim_state_open_board), as
 * separate real boards are; and one shared by the boards without one, which keep the state
 * folder itself, as before. freed with free_worlds(). */
static cwsim *worlds[MAX_SPECS + 1];
static size_t n_worlds;

/* Every world's chips save their memories through this thread (statewriter.h): a save made on
 * the clock thread (an autosave as the clock advances) would hold up the real-time answers of
 * every board, not only its own, for as long as the disk takes. NULL until the first world. */
static statewriter *writer;

/* Frees the worlds with their chips' memories saved, once nothing runs them any more (after
 * sa_bus_free): what the writer has queued reaches the disk first, then each chip makes its last
 * save as it is freed, in this thread, where a failure can be told. Prints a failed write; -1
 * then, 0 when every save reached the disk. */
static int free_worlds(void)
{
    int rc = 0;
    char err[512] = "";
    if (statewriter_stop(writer, err, sizeof err) != 0) {
        fprintf(stderr, "%s: cannot save the chips' memories: %s\n", tool_prog, err);
        rc = -1;
    }
    while (n_worlds > 0)
        cwsim_free(worlds[--n_worlds]);
    if (statewriter_sync_failed(writer, err, sizeof err) != 0) {
        fprintf(stderr, "%s: cannot save the chips' memories: %s\n", tool_prog, err);
        rc = -1;
    }
    statewriter_free(writer);
    writer = NULL;
    return rc;
}

/* A new world with the options and the faults for the board with serial (NULL: the shared
 * world), its state folder open. Exits 2 or 3 on failure, after freeing the worlds. */
static cwsim *new_world(const options *o, const char *serial)
{
    char err[512] = "";
    if (writer == NULL && statewriter_start(&writer) != 0)
        tool_setup_error("cannot start the state writer (%s)", strerror(errno));
    cwsim *sim = NULL;
    if (cwsim_new(&sim, err, sizeof err) != 0) {
        free_worlds();
        tool_setup_error("cannot start the simulator (%s)", err);
    }
    worlds[n_worlds++] = sim;
    if (o->have_seed)
        cwsim_seed(sim, (uint64_t)o->seed);
    if (o->have_noise)
        cwsim_set_noise(sim, o->noise);
    /* Faults first: they apply to what a board is when it is plugged in too (fpga-unprogrammed,
     * old-firmware). A fault with @SERIAL acts on that board's world only. */
    for (size_t i = 0; i < o->n_faults; i++) {
        char name[256];
        const char *board = fault_board(o->faults[i], name, sizeof name);
        if (board != NULL && (serial == NULL || strcmp(board, serial) != 0))
            continue;
        if (cwsim_fault_parse(sim, name, err, sizeof err) != 0) {
            free_worlds();
            tool_usage_error("--sim-fault %s: %s", o->faults[i], err);
        }
    }
    /* Chip memories persist in the state folder, locked while in use (contract.md §5.5). */
    int r = serial != NULL ? cwsim_state_open_board(sim, o->state_dir, serial, err, sizeof err)
                           : cwsim_state_open(sim, o->state_dir, err, sizeof err);
    if (r != 0) {
        free_worlds();
        tool_setup_error("%s", err);
    }
    /* every world, each with its own folder: the writer tells their blobs apart by folder */
    cwsim_state_set_writer(sim, statewriter_take, writer);
    return sim;
}

int main(int argc, char **argv)
{
    static options o;
    tool_prog = "cwlua sim attach";
    tool_forward_signals(); /* from the start: a signal during set-up still ends in clean-up */
    parse_args(argc, argv, &o);
    reexec_preloaded(argv);
    testbed_in_memory();

    char err[512] = "";
    /* Every fault is checked before any world touches the state folder: a typo is a usage
     * error with nothing opened. */
    {
        cwsim *probe = NULL;
        if (cwsim_new(&probe, err, sizeof err) != 0)
            tool_setup_error("cannot start the simulator (%s)", err);
        for (size_t i = 0; i < o.n_faults; i++) {
            char name[256];
            fault_board(o.faults[i], name, sizeof name);
            if (cwsim_fault_parse(probe, name, err, sizeof err) != 0) {
                cwsim_free(probe);
                tool_usage_error("--sim-fault %s: %s", o.faults[i], err);
            }
        }
        cwsim_free(probe);
    }

    cwsim *shared = NULL;
    cwsim_board *boards[MAX_SPECS];
    for (size_t i = 0; i < o.n_specs; i++) {
        const spec *sp = &o.specs[i];
        cwsim *sim;
        if (sp->serial[0] != '\0') {
            sim = new_world(&o, sp->serial);
        } else {
            if (shared == NULL)
                shared = new_world(&o, NULL);
            sim = shared;
        }
        boards[i] =
            cwsim_board_add(sim, sp->kind, sp->serial[0] ? sp->serial : NULL, err, sizeof err);
        if (boards[i] == NULL) {
            free_worlds();
            tool_usage_error("cannot add board '%s' (%s)", sp->arg, err);
        }
        /* the chip on the board: a part, recipe name or alias (contract.md §5); the SPEC's,
         * else --sim-target's; running --sim-app's application */
        const char *part = sp->part[0] ? sp->part : o.target;
        if (part != NULL && cwsim_attach_part(boards[i], part, o.app, err, sizeof err) != 0) {
            free_worlds();
            tool_usage_error("'%s': %s", sp->arg, err);
        }
    }

    const char *trace = getenv("CWLUA_SIM_TRACE");
    sa_bus_options bo = {
        .usb_latency_ms = o.latency_ms,
        .trace = trace != NULL && *trace != '\0' && strcmp(trace, "0") != 0 ? stderr : NULL};
    sa_bus *bus = NULL;
    if (sa_bus_new(&bus, &bo, err, sizeof err) != 0) {
        free_worlds();
        tool_setup_error("cannot create the mock USB bus (%s)", err);
    }
    for (size_t i = 0; i < o.n_specs; i++) {
        if (sa_bus_add_board(bus, boards[i], err, sizeof err) != 0) {
            sa_bus_free(bus);
            free_worlds();
            tool_setup_error("cannot attach board '%s' (%s)", o.specs[i].arg, err);
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
    tool_env env;
    preload_environment(&env, sa_bus_root_dir(bus));
    tool_env_set(&env, REEXEC_MARK, NULL);
    tool_env_set(&env, "TMPDIR", caller_tmpdir);
    if (sa_bus_start(bus, err, sizeof err) != 0) {
        sa_bus_free(bus);
        free_worlds();
        tool_setup_error("%s", err);
    }

    int status = tool_run(o.command, env.v, NULL, NULL);
    tool_env_free(&env);

    /* The clock thread has stopped and the connections are closed: no world ticks or saves
     * any more, so the queue can drain and the last saves be made. A failed save is told on
     * stderr; the exit status stays COMMAND's (contract.md §5). */
    sa_bus_free(bus);
    (void)free_worlds();
    return status;
}

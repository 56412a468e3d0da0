/* SPDX-License-Identifier: MIT */
/* cwlua-sim-adapter: `cwlua sim adapter PART [OPTIONS] -- COMMAND [ARGS...]` (contract.md §5.8).
 * Runs COMMAND with a simulated USB-serial adapter whose wire leads to a simulated STM32, so that
 * `cwlua -d serial:/dev/ttyUSB0 --gpio-seq ...` and stm32flash can be tried without hardware.
 * The cwlua binary execs this helper, installed beside it: like cwlua-sim-attach it links GLib
 * and umockdev, which cwlua itself does not (contract.md §2).
 *
 * How (test-harnesses.md §2.2, variant A; the adapter is tools/common/usbserial.c, which the
 * test suite's tests/serial/serial_rig.c shares and adds the adapter's own faults to):
 *  - a umockdev testbed declares an FTDI FT232R (0403:6001) with its tty, /dev/ttyUSB0, so that
 *    libserialport finds the port with its USB description; umockdev backs the node with a pty,
 *    whose master end is the adapter's wire;
 *  - an ioctl handler answers the modem-line ioctls a pty refuses (TIOCMGET/BIS/BIC/SET,
 *    TIOCSBRK/CBRK) and passes every other one to the pty: that is how the helper sees DTR, RTS
 *    and break, and it drives the chip's nRST and BOOT0 from them as --nrst and --boot0 say
 *    (default: DTR# to nRST and RTS# to BOOT0, straight, the wiring of docs/install.md "Serial
 *    adapters");
 *  - COMMAND runs under umockdev's preload library plus the parity shim (shim.c), which lets it
 *    set 8E1 on the pty and tells the helper the frame format it chose; it is run, and signals
 *    are passed on to it, as `cwlua sim attach` does (tools/common/tool.c);
 *  - the line is paced in real time: each byte the client writes occupies the wire for one
 *    frame at the client's baud and reaches the chip when its stop bit ends; the chip's replies
 *    are decoded in the client's format.
 * The chip is libcwsim's standalone STM32 (cwsim_stm32.h, as `cwlua sim serve` uses it) with
 * its memories in the state folder, so what COMMAND programs is there for `-d sim` afterwards.
 *
 * Exit status: COMMAND's (128+N if it died of signal N); 2 usage error; 3 the simulator or the
 * mock adapter could not be set up; 126/127 COMMAND could not be run / was not found (env(1)). */
#include "cwsim.h"
#include "cwsim_ssapp.h"
#include "cwsim_stm32.h"
#include "tool.h"
#include "usbserial.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FAULTS 64
#define LOOP_MS    10 /* longest sleep of the main loop: how soon COMMAND's exit is seen */

#ifndef CWLUA_SHIM_PATH /* relative to this program's folder; set by CMakeLists.txt */
#define CWLUA_SHIM_PATH "../libexec/cwlua/libcwlua-sim-adapter-shim.so"
#endif

/* The adapter as the client sees it: an FT232R, the most common USB-TTL adapter. */
#define DEVNODE "/dev/ttyUSB0"
#define USB_VID "0403"
#define USB_PID "6001"
static const usbserial_usb FT232R = {
    .port = "ttyUSB0", /* DEVNODE */
    .vid = USB_VID,
    .pid = USB_PID,
    .manufacturer = "FTDI",
    .product = "FT232R USB UART",
    .serial = "A50285BI",
};

typedef struct options {
    const char *part;
    const char *state_dir, *app, *seed_text, *nrst_text, *boot0_text;
    const char *faults[MAX_FAULTS];
    size_t n_faults;
    usbserial_wire nrst, boot0;
    char **command;
} options;

static const char usage_text[] =
    "usage: cwlua sim adapter PART [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND with a simulated USB-serial adapter (an FTDI FT232R, 0403:6001, at\n"
    "/dev/ttyUSB0) whose wire leads to a simulated STM32 running its ROM bootloader (AN3155),\n"
    "paced in real time. cwlua -d serial:/dev/ttyUSB0 (with --gpio-seq), stm32flash and any\n"
    "other program using the port see a real-looking adapter; its DTR and RTS lines and break\n"
    "drive the chip's nRST and BOOT0, so reset and boot sequences can be tried without hardware.\n"
    "\n"
    "PART is an STM32 part (stm32f100xb, ...), a recipe name (stm32f1, ...) or a ChipWhisperer\n"
    "platform (CW308_STM32F1, ...). COMMAND finds the port's path in $CWLUA_SIM_ADAPTER too.\n"
    "\n"
    "options:\n"
    "  --nrst WIRE           what drives the chip's nRST (default dtr)\n"
    "  --boot0 WIRE          what drives the chip's BOOT0 (default rts)\n"
    "                        WIRE: dtr, rts (the adapter's active-low DTR#/RTS# pin wired\n"
    "                        straight: asserted = low), !dtr, !rts (through an inverting\n"
    "                        transistor: asserted = high), brk (low during a break), or\n"
    "                        high, low (tied, like a jumper)\n"
    "  --sim-state DIR       folder for the chip's memories (default $XDG_STATE_HOME/cwlua/sim)\n"
    "  --sim-fault NAME[=V]  a chip fault; repeatable (list: cwlua sim faults)\n"
    "  --sim-seed N          seed of the random faults (default 1)\n"
    "  --sim-app MODEL       the application after reset with BOOT0 low or Go: silent\n"
    "                        (default), banner, ss1-aes or ss2-aes\n"
    "  -h, --help            show this help\n"
    "\n"
    "The default wiring is docs/install.md's: DTR# to nRST, RTS# to BOOT0. Linux asserts DTR\n"
    "and RTS when a port is opened, so the chip starts held in reset (DTR asserted) with BOOT0\n"
    "low (RTS asserted) until COMMAND drives the lines:\n"
    "  cwlua sim adapter stm32f1 -- cwlua -d serial:/dev/ttyUSB0 \\\n"
    "      --gpio-seq '-rts&dtr,-dtr:rts&dtr,-dtr' program stm32f1 fw.hex\n"
    "  cwlua sim adapter stm32f1 -- stm32flash -b 115200 -i '-rts&dtr,-dtr,:rts&dtr,-dtr' \\\n"
    "      -r out.bin /dev/ttyUSB0\n"
    "(stm32flash sends its first byte as soon as the entry sequence ends: the trailing ','\n"
    "gives the chip 100 ms to start its bootloader, as on hardware.)\n"
    "\n"
    "environment: CWLUA_SIM_TRACE=1 prints every line change and chip state on stderr.\n"
    "\n"
    "exit status: COMMAND's (128+N if it died of signal N); 2 usage error; 3 the simulator\n"
    "or the mock adapter could not be set up; 126/127 COMMAND could not be run / was not found.\n";

/* ---- options -------------------------------------------------------------------------------- */

static usbserial_wire parse_wire(const char *opt, const char *s)
{
    usbserial_wire w;
    if (usbserial_wire_parse(s, &w) != 0)
        tool_usage_error("%s '%s': expected dtr, rts, !dtr, !rts, brk, high or low", opt, s);
    return w;
}

static void usage(void)
{
    fputs(usage_text, stdout);
}

static void parse_args(int argc, char **argv, options *o)
{
    o->nrst = WIRE_DTR;
    o->boot0 = WIRE_RTS;
    tool_help_or_dashdash(argc, argv, usage);
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "--") == 0)
            break;
        if ((v = tool_option_value(argc, argv, &i, "--sim-fault")) != NULL) {
            if (o->n_faults == MAX_FAULTS)
                tool_usage_error("too many --sim-fault options (at most %d)", MAX_FAULTS);
            o->faults[o->n_faults++] = v;
        } else if ((v = tool_option_value(argc, argv, &i, "--sim-seed")) != NULL) {
            tool_once("--sim-seed", o->seed_text, v);
            char *end;
            errno = 0;
            (void)strtoull(v, &end, 10);
            if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE)
                tool_usage_error("--sim-seed '%s': expected a non-negative integer", v);
            o->seed_text = v;
        } else if ((v = tool_option_value(argc, argv, &i, "--sim-state")) != NULL) {
            tool_once("--sim-state", o->state_dir, v);
            if (*v == '\0')
                tool_usage_error("--sim-state: expected a folder");
            o->state_dir = v;
        } else if ((v = tool_option_value(argc, argv, &i, "--sim-app")) != NULL) {
            tool_once("--sim-app", o->app, v);
            o->app = v;
        } else if ((v = tool_option_value(argc, argv, &i, "--nrst")) != NULL) {
            tool_once("--nrst", o->nrst_text, v);
            o->nrst_text = v;
            o->nrst = parse_wire("--nrst", v);
        } else if ((v = tool_option_value(argc, argv, &i, "--boot0")) != NULL) {
            tool_once("--boot0", o->boot0_text, v);
            o->boot0_text = v;
            o->boot0 = parse_wire("--boot0", v);
        } else if (arg[0] == '-') {
            tool_usage_error("unknown option '%s'", arg);
        } else if (o->part != NULL) {
            tool_usage_error("one PART only ('%s' and '%s')", o->part, arg);
        } else {
            o->part = arg;
        }
    }
    if (o->part == NULL)
        tool_usage_error("no PART given (an STM32 such as stm32f1 comes before '--')");
    if (i + 1 >= argc)
        tool_usage_error("no command after '--'");
    o->command = argv + i + 1;
}

/* ---- the adapter and the chip --------------------------------------------------------------- */

typedef struct adapter {
    usbserial line; /* shared with umockdev's ioctl thread, see usbserial.h */
    const options *o;
    cwsim *sim;
    cwsim_stm32 *chip;
    cwsim_stm32_mode mode;
    bool trace;
} adapter;

static adapter A;

static uint64_t now_ns(void)
{
    return usbserial_now_ns(&A.line);
}

__attribute__((format(printf, 1, 2))) static void trace(const char *fmt, ...)
{
    if (!A.trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[sim adapter %.1f ms] ", (double)now_ns() / 1e6);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *lv(int level)
{
    return level ? "high" : "low";
}

/* The chip's nRST and BOOT0 from a state of the lines. */
static void drive_chip(int modem, int brk, uint64_t t)
{
    static int last = -1; /* the lines last traced: a client often sets each one again */
    int nrst = usbserial_level(A.o->nrst, modem, brk),
        boot0 = usbserial_level(A.o->boot0, modem, brk);
    int now = (modem & (TIOCM_DTR | TIOCM_RTS)) | (brk ? 0x10000 : 0);
    if (now != last)
        trace("DTR %s, RTS %s, break %s: nRST %s, BOOT0 %s", (modem & TIOCM_DTR) ? "on" : "off",
              (modem & TIOCM_RTS) ? "on" : "off", brk ? "on" : "off", lv(nrst), lv(boot0));
    last = now;
    cwsim_stm32_set_boot0(A.chip, boot0, t);
    cwsim_stm32_set_nrst(A.chip, !nrst, t);
}

/* Main thread: apply the queued line changes to the chip in order. */
static void apply_lines(void)
{
    usbserial_lines c;
    while (usbserial_next_change(&A.line, &c)) {
        uint64_t t = now_ns();
        drive_chip(c.modem, c.brk, c.t_ns < t ? t : c.t_ns);
    }
}

/* What the client wrote: onto the wire, one frame after the other at its own format. */
static void read_client(void)
{
    uint8_t buf[512];
    ssize_t n = usbserial_read_client(&A.line, buf, sizeof buf);
    if (n > 0)
        usbserial_send(&A.line, buf, (size_t)n);
}

static const char *mode_name(cwsim_stm32_mode m)
{
    static const char *const names[] = {
        "off",    "in reset",           "starting", "in its bootloader",
        "synced", "in its application", "halted"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "?";
}

static void step_chip(void)
{
    uint64_t now = now_ns();
    while (usbserial_deliver(&A.line, A.chip, now)) {
    }
    cwsim_stm32_advance(A.chip, now);
    cwsim_stm32_mode m = cwsim_stm32_get_mode(A.chip);
    if (m != A.mode) {
        A.mode = m;
        const char *note = cwsim_stm32_note(A.chip);
        trace("chip %s%s", mode_name(m),
              note != NULL && strcmp(note, "flash-blank") == 0 ? " (its flash is blank)" : "");
    }
}

/* The testbed: the adapter on USB, its interface and its tty (test-harnesses.md §2.2 A). The
 * pty starts as a tty starts (38400), so that a client's first set-up changes the speed with
 * the parity: a pty refuses a parity-only change. */
static void make_testbed(void)
{
    char err[512];
    if (usbserial_testbed(&A.line, &FT232R, B38400, err, sizeof err) != 0)
        tool_setup_error("%s", err);
}

static void make_chip(const options *o)
{
    char err[512] = "";
    if (cwsim_new(&A.sim, err, sizeof err) != 0)
        tool_setup_error("cannot start the simulator (%s)", err);
    if (o->seed_text != NULL)
        cwsim_seed(A.sim, (uint64_t)strtoull(o->seed_text, NULL, 10));
    for (size_t i = 0; i < o->n_faults; i++)
        if (cwsim_fault_parse(A.sim, o->faults[i], err, sizeof err) != 0)
            tool_usage_error("--sim-fault %s: %s", o->faults[i], err);
    if (cwsim_stm32_part_find(o->part) == NULL)
        tool_usage_error(
            "'%s' is not a simulated STM32 (a part such as stm32f100xb, a recipe such "
            "as stm32f1, or a platform such as CW308_STM32F1): a serial adapter programs "
            "an STM32 through its ROM bootloader",
            o->part);
    if (cwsim_state_open(A.sim, o->state_dir, err, sizeof err) != 0)
        tool_setup_error("%s", err);
    if (cwsim_stm32_new(A.sim, o->part, &A.chip, err, sizeof err) != 0)
        tool_setup_error("%s", err);
    if (o->app != NULL && cwsim_stm32_set_app(A.chip, o->app, err, sizeof err) != 0)
        tool_usage_error("--sim-app %s", err);
    cwsim_stm32_set_tx(A.chip, usbserial_chip_tx, &A.line);
    trace("%s on " DEVNODE " (" USB_VID ":" USB_PID "), nRST from %s, BOOT0 from %s",
          cwsim_stm32_part(A.chip)->name, o->nrst_text ? o->nrst_text : "dtr",
          o->boot0_text ? o->boot0_text : "rts");
    /* powered and clocked as on a CW308 (the application's UART runs at its nominal rate), the
     * lines as Linux leaves them for a port that is open */
    cwsim_stm32_set_clock(A.chip, CWSIM_SSAPP_CLOCK_REF, 0);
    drive_chip(A.line.modem, 0, 0);
    cwsim_stm32_set_power(A.chip, 1, 0);
    A.mode = CWSIM_STM32_OFF;
}

/* ---- COMMAND -------------------------------------------------------------------------------- */

/* The shim beside this program: CWLUA_SHIM_PATH is relative to its folder. */
static char *shim_path(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        tool_setup_error("cannot find this program's own path (%s)", strerror(errno));
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    size_t len = strlen(exe) + strlen(CWLUA_SHIM_PATH) + 2;
    char *p = malloc(len);
    if (p == NULL)
        tool_setup_error("out of memory");
    snprintf(p, len, "%s/%s", exe, CWLUA_SHIM_PATH);
    struct stat st;
    if (stat(p, &st) != 0)
        tool_setup_error("%s is missing (%s); it is built and installed with cwlua: reinstall it",
                         p, strerror(errno));
    return p;
}

/* COMMAND's environment: ours, with umockdev's preload and the shim in front of LD_PRELOAD,
 * the testbed, ASan's link-order check off, and the adapter's path. */
static void command_environment(tool_env *env, const char *shim)
{
    tool_env_init(env);
    const char *old = getenv("LD_PRELOAD");
    gchar *preload = g_strdup_printf("%s %s%s%s", PRELOAD_LIB, shim, old != NULL && *old ? " " : "",
                                     old != NULL ? old : "");
    tool_env_set(env, "LD_PRELOAD", preload);
    g_free(preload);
    gchar *root = umockdev_testbed_get_root_dir(A.line.tb);
    tool_env_set(env, "UMOCKDEV_DIR", root);
    g_free(root);
    tool_env_asan(env);
    tool_env_set(env, "CWLUA_SIM_ADAPTER", DEVNODE);
}

/* Serve the wire until COMMAND ends (tool_run's waiter); its exit status as a shell gives it. */
static int serve(pid_t child, void *ctx)
{
    (void)ctx;
    for (;;) {
        int status;
        pid_t w = waitpid(child, &status, WNOHANG);
        if (w == child) {
            /* its ioctls all returned before it exited: apply the line changes still queued */
            apply_lines();
            step_chip();
            return tool_exit_status(status);
        }
        if (w < 0 && errno != EINTR)
            return EXIT_SETUP;
        usbserial_drain_wake(&A.line);
        apply_lines();
        step_chip();
        usbserial_flush(&A.line);
        int timeout = usbserial_poll_ms(&A.line, A.chip, LOOP_MS);
        struct pollfd pf[2] = {{A.line.wake[0], POLLIN, 0}, {A.line.master, POLLIN, 0}};
        if (poll(pf, 2, timeout) < 0 && errno != EINTR)
            return EXIT_SETUP;
        if (pf[1].revents & POLLIN)
            read_client();
    }
}

int main(int argc, char **argv)
{
    static options o;
    tool_prog = "cwlua sim adapter";
    tool_forward_signals();
    signal(SIGPIPE, SIG_IGN);
    parse_args(argc, argv, &o);
    const char *t = getenv("CWLUA_SIM_TRACE");
    A.trace = t != NULL && *t != '\0' && strcmp(t, "0") != 0;
    A.o = &o;
    /* Linux asserts DTR and RTS when a port is opened */
    if (usbserial_init(&A.line, TIOCM_DTR | TIOCM_RTS) != 0)
        tool_setup_error("pipe: %s", strerror(errno));
    char *shim = shim_path();
    make_chip(&o);
    make_testbed();

    tool_env env;
    command_environment(&env, shim);
    free(shim);
    int status = tool_run(o.command, env.v, serve, NULL);
    tool_env_free(&env);

    cwsim_stm32_free(A.chip); /* saves the chip's memories */
    cwsim_free(A.sim);
    usbserial_free(&A.line, 1);
    return status;
}

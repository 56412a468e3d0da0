/* SPDX-License-Identifier: MIT */
/* cwlua-sim-adapter: `cwlua sim adapter PART [OPTIONS] -- COMMAND [ARGS...]` (contract.md §5.8).
 * Runs COMMAND with a simulated USB-serial adapter whose wire leads to a simulated STM32, so that
 * `cwlua -d serial:/dev/ttyUSB0 --gpio-seq ...` and stm32flash can be tried without hardware.
 * The cwlua binary execs this helper, installed beside it: like cwlua-sim-attach it links GLib
 * and umockdev, which cwlua itself does not (contract.md §2).
 *
 * How (test-harnesses.md §2.2, variant A; the test suite's tests/serial/serial_rig.c is built
 * the same way and adds the adapter's own faults):
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

#include <errno.h>
#include <fcntl.h>
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
#include <termios.h>
#include <time.h>
#include <umockdev.h>
#include <unistd.h>

#define MAX_FAULTS 64
#define MAX_EVENTS 256   /* line changes between two turns of the main loop */
#define INQ        8192  /* client bytes on their way to the chip */
#define OUTQ       65536 /* chip bytes waiting for the client */
#define LOOP_MS    10    /* longest sleep of the main loop: how soon COMMAND's exit is seen */

#ifndef CWLUA_SHIM_PATH /* relative to this program's folder; set by CMakeLists.txt */
#define CWLUA_SHIM_PATH "../libexec/cwlua/libcwlua-sim-adapter-shim.so"
#endif

/* The adapter as the client sees it: an FT232R, the most common USB-TTL adapter. */
#define PORT         "ttyUSB0"
#define DEVNODE      "/dev/" PORT
#define USB_VID      "0403"
#define USB_PID      "6001"
#define USB_MANUF    "FTDI"
#define USB_PRODUCT  "FT232R USB UART"
#define USB_SERIAL   "A50285BI"
#define USB_DEVPATH  "/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define TTY_MAJOR    "188" /* ttyUSB */
#define DEFAULT_BAUD 115200.0

/* Where a chip pin's level comes from. DTR and RTS are the adapter's active-low DTR#/RTS#
 * pins wired straight (asserted: low); !dtr and !rts go through an inverting transistor; brk
 * is TX held low during a break; high and low are tied (a jumper). */
typedef enum src { SRC_HIGH, SRC_LOW, SRC_DTR, SRC_RTS, SRC_NDTR, SRC_NRTS, SRC_BRK } src;

static const struct {
    const char *name;
    src v;
} SOURCES[] = {{"dtr", SRC_DTR}, {"rts", SRC_RTS},   {"!dtr", SRC_NDTR}, {"!rts", SRC_NRTS},
               {"brk", SRC_BRK}, {"high", SRC_HIGH}, {"low", SRC_LOW}};

typedef struct line_event {
    uint64_t t_ns;
    int modem, brk;
} line_event;

typedef struct pending {
    uint8_t byte;
    cwsim_uart_format fmt;
    uint64_t end_ns;
} pending;

typedef struct options {
    const char *part;
    const char *state_dir, *app, *seed_text, *nrst_text, *boot0_text;
    const char *faults[MAX_FAULTS];
    size_t n_faults;
    src nrst, boot0;
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

static src parse_src(const char *opt, const char *s)
{
    for (size_t i = 0; i < sizeof SOURCES / sizeof SOURCES[0]; i++)
        if (strcmp(s, SOURCES[i].name) == 0)
            return SOURCES[i].v;
    tool_usage_error("%s '%s': expected dtr, rts, !dtr, !rts, brk, high or low", opt, s);
}

static void usage(void)
{
    fputs(usage_text, stdout);
}

static void parse_args(int argc, char **argv, options *o)
{
    o->nrst = SRC_DTR;
    o->boot0 = SRC_RTS;
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
            o->nrst = parse_src("--nrst", v);
        } else if ((v = tool_option_value(argc, argv, &i, "--boot0")) != NULL) {
            tool_once("--boot0", o->boot0_text, v);
            o->boot0_text = v;
            o->boot0 = parse_src("--boot0", v);
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
    /* shared with umockdev's ioctl thread, under lock */
    GMutex lock;
    int modem, brk;
    line_event ev[MAX_EVENTS];
    size_t ev_head, ev_len;
    int wake[2];
    uint64_t t0;

    /* main thread */
    const options *o;
    UMockdevTestbed *tb;
    int master, keep;
    cwsim *sim;
    cwsim_stm32 *chip;
    cwsim_stm32_mode mode;
    pending inq[INQ];
    size_t in_head, in_len;
    uint64_t wire_free_ns;
    uint8_t outq[OUTQ];
    size_t out_len;
    bool trace;
} adapter;

static adapter A;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - A.t0;
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

static int level_of(src s, int modem, int brk)
{
    switch (s) {
    case SRC_HIGH:
        return 1;
    case SRC_LOW:
        return 0;
    case SRC_DTR: /* USB-TTL adapters drive DTR#/RTS# active low: asserted = low */
        return !(modem & TIOCM_DTR);
    case SRC_RTS:
        return !(modem & TIOCM_RTS);
    case SRC_NDTR:
        return (modem & TIOCM_DTR) != 0;
    case SRC_NRTS:
        return (modem & TIOCM_RTS) != 0;
    case SRC_BRK:
        return !brk;
    }
    return 1;
}

/* On umockdev's thread: remember the change with its time, wake the main loop. */
static void lines_changed_locked(void)
{
    if (A.ev_len < MAX_EVENTS) {
        line_event *e = &A.ev[(A.ev_head + A.ev_len) % MAX_EVENTS];
        e->t_ns = now_ns();
        e->modem = A.modem;
        e->brk = A.brk;
        A.ev_len++;
    }
    char b = 1;
    ssize_t w = write(A.wake[1], &b, 1);
    (void)w;
}

static int read_int_arg(UMockdevIoctlClient *client, int *v)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(int), NULL);
    if (d == NULL)
        return -1;
    memcpy(v, d->data, sizeof *v);
    g_object_unref(d);
    return 0;
}

/* The modem-line ioctls a pty answers with ENOTTY, as the adapter's driver would; everything
 * else goes to the pty. CTS, DSR and CD read as asserted (nothing is wired to them). */
static gboolean on_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *client, gpointer user)
{
    (void)h;
    (void)user;
    gulong req = umockdev_ioctl_client_get_request(client);
    int v = 0;
    switch (req) {
    case TIOCMGET: {
        UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(int), NULL);
        if (d == NULL) {
            umockdev_ioctl_client_complete(client, -1, EFAULT);
            break;
        }
        g_mutex_lock(&A.lock);
        v = A.modem | TIOCM_CTS | TIOCM_DSR | TIOCM_CAR;
        g_mutex_unlock(&A.lock);
        umockdev_ioctl_data_update(d, 0, (guint8 *)&v, (gint)sizeof v);
        g_object_unref(d);
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case TIOCMBIS:
    case TIOCMBIC:
    case TIOCMSET:
        if (read_int_arg(client, &v) != 0) {
            umockdev_ioctl_client_complete(client, -1, EFAULT);
            break;
        }
        g_mutex_lock(&A.lock);
        if (req == TIOCMBIS)
            A.modem |= v;
        else if (req == TIOCMBIC)
            A.modem &= ~v;
        else
            A.modem = v;
        lines_changed_locked();
        g_mutex_unlock(&A.lock);
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    case TIOCSBRK:
    case TIOCCBRK:
        g_mutex_lock(&A.lock);
        A.brk = req == TIOCSBRK;
        lines_changed_locked();
        g_mutex_unlock(&A.lock);
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    default: {
        gint e = 0;
        gint r = umockdev_ioctl_client_execute(client, &e, NULL);
        umockdev_ioctl_client_complete(client, r, e);
        break;
    }
    }
    return TRUE;
}

static const char *lv(int level)
{
    return level ? "high" : "low";
}

/* The chip's nRST and BOOT0 from a state of the lines. */
static void drive_chip(int modem, int brk, uint64_t t)
{
    static int last = -1; /* the lines last traced: a client often sets each one again */
    int nrst = level_of(A.o->nrst, modem, brk), boot0 = level_of(A.o->boot0, modem, brk);
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
    for (;;) {
        line_event e;
        g_mutex_lock(&A.lock);
        int have = A.ev_len > 0;
        if (have) {
            e = A.ev[A.ev_head];
            A.ev_head = (A.ev_head + 1) % MAX_EVENTS;
            A.ev_len--;
        }
        g_mutex_unlock(&A.lock);
        if (!have)
            return;
        uint64_t t = now_ns();
        drive_chip(e.modem, e.brk, e.t_ns < t ? t : e.t_ns);
    }
}

static double speed_baud(speed_t s)
{
    static const struct {
        speed_t s;
        double baud;
    } t[] = {{B1200, 1200},     {B2400, 2400},     {B4800, 4800},    {B9600, 9600},
             {B19200, 19200},   {B38400, 38400},   {B57600, 57600},  {B115200, 115200},
             {B230400, 230400}, {B460800, 460800}, {B921600, 921600}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].s == s)
            return t[i].baud;
    return DEFAULT_BAUD;
}

/* The client's frame format: the speed and stop bits from the pty's termios (read through the
 * master), the parity from the shim's marker (ptyshim_common.h): CMSPAR = parity (+ PARODD:
 * odd), PARODD alone = none, no marker = unknown (*bare: the client never set the port up). */
static cwsim_uart_format client_format(int *bare)
{
    cwsim_uart_format f = {DEFAULT_BAUD, 8, CWSIM_PARITY_EVEN, 2};
    struct termios t;
    *bare = 1;
    if (tcgetattr(A.master, &t) != 0)
        return f;
    f.baud = speed_baud(cfgetospeed(&t));
    f.stop_halves = (t.c_cflag & CSTOPB) ? 4 : 2;
    if (t.c_cflag & CMSPAR) {
        *bare = 0;
        f.parity = (t.c_cflag & PARODD) ? CWSIM_PARITY_ODD : CWSIM_PARITY_EVEN;
    } else if (t.c_cflag & PARODD) {
        *bare = 0;
        f.parity = CWSIM_PARITY_NONE;
    }
    return f;
}

/* A frame the chip sent, as the adapter's receiver (in the client's format) reads it. */
static void on_chip_tx(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns)
{
    (void)ctx;
    (void)end_ns;
    int bare;
    cwsim_uart_format f = client_format(&bare);
    uint8_t byte = frame->byte;
    if (bare) { /* nothing known about the client's parity: read it in the chip's own format */
        double baud = f.baud;
        f = frame->fmt;
        f.baud = baud;
    }
    (void)cwsim_uart_frame_decode(frame, &f, &byte);
    if (A.out_len < OUTQ)
        A.outq[A.out_len++] = byte;
}

static void flush_out(void)
{
    while (A.out_len > 0) {
        ssize_t w = write(A.master, A.outq, A.out_len);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EAGAIN)
                return;
            A.out_len = 0; /* nobody to read it */
            return;
        }
        memmove(A.outq, A.outq + w, A.out_len - (size_t)w);
        A.out_len -= (size_t)w;
    }
}

/* What the client wrote: onto the wire, one frame after the other at its own format. */
static void read_client(void)
{
    uint8_t buf[512];
    size_t room = INQ - A.in_len;
    if (room == 0)
        return;
    ssize_t n = read(A.master, buf, room < sizeof buf ? room : sizeof buf);
    if (n <= 0)
        return;
    int bare;
    cwsim_uart_format f = client_format(&bare);
    if (bare) /* taken as the 8E1 the bootloader expects */
        f.parity = CWSIM_PARITY_EVEN;
    uint64_t frame = cwsim_uart_frame_ns(&f), now = now_ns();
    for (ssize_t i = 0; i < n; i++) {
        uint64_t start = A.wire_free_ns > now ? A.wire_free_ns : now;
        pending *p = &A.inq[(A.in_head + A.in_len) % INQ];
        p->byte = buf[i];
        p->fmt = f;
        p->end_ns = start + frame;
        A.wire_free_ns = p->end_ns;
        A.in_len++;
    }
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
    while (A.in_len > 0 && A.inq[A.in_head].end_ns <= now) {
        pending *p = &A.inq[A.in_head];
        cwsim_stm32_rx_byte(A.chip, p->byte, &p->fmt, p->end_ns);
        A.in_head = (A.in_head + 1) % INQ;
        A.in_len--;
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

/* The testbed: the adapter on USB, its interface and its tty (test-harnesses.md §2.2 A). */
static void make_testbed(void)
{
    char desc[4096];
    snprintf(desc, sizeof desc,
             "P: %s\nN: bus/usb/001/002\nE: DEVNAME=/dev/bus/usb/001/002\nE: DEVTYPE=usb_device\n"
             "E: SUBSYSTEM=usb\nA: busnum=1\\n\nA: devnum=2\\n\nA: idVendor=" USB_VID "\\n\n"
             "A: idProduct=" USB_PID "\\n\nA: manufacturer=" USB_MANUF "\\n\n"
             "A: product=" USB_PRODUCT "\\n\nA: serial=" USB_SERIAL "\\n\nA: speed=12\\n\n\n"
             "P: %s/1-1:1.0\nE: DEVTYPE=usb_interface\nE: DRIVER=ftdi_sio\nE: SUBSYSTEM=usb\n"
             "A: bInterfaceClass=ff\\n\nA: bInterfaceNumber=00\\n\n\n"
             "P: %s/1-1:1.0/tty/" PORT "\nN: " PORT "\nE: DEVNAME=" DEVNODE "\n"
             "E: SUBSYSTEM=tty\nE: MAJOR=" TTY_MAJOR "\nE: MINOR=0\nA: dev=" TTY_MAJOR ":0\\n\n"
             "L: device=../../../1-1:1.0\n",
             USB_DEVPATH, USB_DEVPATH, USB_DEVPATH);
    A.tb = umockdev_testbed_new();
    GError *err = NULL;
    if (!umockdev_testbed_add_from_string(A.tb, desc, &err))
        tool_setup_error("cannot declare the adapter to umockdev (%s)", err->message);
    UMockdevIoctlBase *h = umockdev_ioctl_base_new();
    g_signal_connect(h, "handle-ioctl", G_CALLBACK(on_ioctl), NULL);
    if (!umockdev_testbed_attach_ioctl(A.tb, DEVNODE, h, &err))
        tool_setup_error("cannot answer the adapter's ioctls (%s)", err->message);
    g_object_unref(h);
    A.master = umockdev_testbed_get_dev_fd(A.tb, DEVNODE);
    if (A.master < 0)
        tool_setup_error("umockdev gave no pty behind " DEVNODE);
    unsigned n = 0;
    if (ioctl(A.master, TIOCGPTN, &n) != 0)
        tool_setup_error("cannot find the pty behind " DEVNODE " (TIOCGPTN: %s)", strerror(errno));
    char slave[64];
    snprintf(slave, sizeof slave, "/dev/pts/%u", n);
    /* Keep the slave open: otherwise the master reads EIO whenever the client has the port
     * closed (test-harnesses.md §2.1). Start it as a tty starts (38400), so that a client's
     * first set-up changes the speed with the parity: a pty refuses a parity-only change. */
    A.keep = open(slave, O_RDWR | O_NOCTTY);
    if (A.keep < 0)
        tool_setup_error("cannot open %s (%s)", slave, strerror(errno));
    struct termios t;
    if (tcgetattr(A.keep, &t) == 0) {
        cfmakeraw(&t);
        cfsetispeed(&t, B38400);
        cfsetospeed(&t, B38400);
        tcsetattr(A.keep, TCSANOW, &t);
    }
    int fl = fcntl(A.master, F_GETFL);
    fcntl(A.master, F_SETFL, fl | O_NONBLOCK);
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
    cwsim_stm32_set_tx(A.chip, on_chip_tx, NULL);
    trace("%s on " DEVNODE " (" USB_VID ":" USB_PID "), nRST from %s, BOOT0 from %s",
          cwsim_stm32_part(A.chip)->name, o->nrst_text ? o->nrst_text : "dtr",
          o->boot0_text ? o->boot0_text : "rts");
    /* powered and clocked as on a CW308 (the application's UART runs at its nominal rate), the
     * lines as Linux leaves them for a port that is open */
    cwsim_stm32_set_clock(A.chip, CWSIM_SSAPP_CLOCK_REF, 0);
    drive_chip(A.modem, 0, 0);
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
    gchar *root = umockdev_testbed_get_root_dir(A.tb);
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
        char b[64];
        while (read(A.wake[0], b, sizeof b) > 0) {
        }
        apply_lines();
        step_chip();
        flush_out();
        int timeout = LOOP_MS;
        uint64_t next = cwsim_stm32_next_event_ns(A.chip), now = now_ns();
        if (A.in_len > 0 && A.inq[A.in_head].end_ns < next)
            next = A.inq[A.in_head].end_ns;
        if (next != UINT64_MAX) {
            uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
            if (ms < (uint64_t)timeout)
                timeout = (int)ms;
        }
        struct pollfd pf[2] = {{A.wake[0], POLLIN, 0}, {A.master, POLLIN, 0}};
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
    g_mutex_init(&A.lock);
    if (pipe(A.wake) != 0)
        tool_setup_error("pipe: %s", strerror(errno));
    fcntl(A.wake[0], F_SETFL, O_NONBLOCK);
    fcntl(A.wake[1], F_SETFL, O_NONBLOCK);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    A.t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    A.modem = TIOCM_DTR | TIOCM_RTS; /* Linux asserts both when a port is opened */
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
    close(A.keep);
    umockdev_testbed_detach_ioctl(A.tb, DEVNODE, NULL);
    g_object_unref(A.tb); /* removes the testbed's folder */
    close(A.wake[0]);
    close(A.wake[1]);
    g_mutex_clear(&A.lock);
    return status;
}

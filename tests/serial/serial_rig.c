/* SPDX-License-Identifier: MIT */
/* serial_rig: a plain USB serial adapter wired to a simulated STM32, for the serial-adapter
 * tests. Hardware-free, as test-harnesses.md §2.2 (A) describes:
 *
 *   - a umockdev testbed declares a USB serial adapter (VID:PID, strings) with its tty, so
 *     libserialport finds /dev/ttyUSB0 or /dev/ttyACM0 with its USB description; umockdev backs
 *     the node with a pty, whose master end is the adapter's "wire";
 *   - an ioctl handler answers the modem-line ioctls a pty rejects (TIOCMGET/BIS/BIC/SET,
 *     TIOCSBRK/CBRK) and passes every other ioctl to the real pty; it is how the rig sees DTR,
 *     RTS and break;
 *   - the wire leads either to a simulated STM32 (libcwsim's standalone chip, the same model as
 *     `cwlua sim serve`) whose nRST and BOOT0 are wired to DTR/RTS/break as --nrst/--boot0 say,
 *     paced in real time, or (--relay PTY) to another pty, such as the one `cwlua sim serve
 *     PART --pty` prints;
 *   - COMMAND runs under umockdev's preload plus the parity shim (--shim), which lets a program
 *     set parity on a pty and leaves the marker the pty keeps (CMSPAR/PARODD, as tests/stm32's
 *     shim and cwlua-sim-serve use it), so the chip sees the frame format the client chose.
 *
 * Faults of the adapter itself: --unplug-after N hangs the line up (TIOCVHANGUP, what the
 * kernel does when a USB serial adapter is unplugged) and removes the device after the wire
 * has carried N bytes from the client; --hold-lock keeps the port open and flock()ed as
 * another program would, --hold-excl keeps it open in exclusive mode (TIOCEXCL); --client-uid
 * runs COMMAND as that user with the node owned by root:dialout, mode 0660 (a user not in the
 * dialout group; 0666 with --hold-excl).
 *
 * With --log FILE the rig writes one line per event: "lines DTR=1 RTS=0 BRK=0 nrst=low
 * boot0=high", "chip bootloader", and at the end "summary ...". Exit status: COMMAND's; 125 if
 * the rig itself failed. */
#define _XOPEN_SOURCE 700 /* nftw */

#include "cwsim.h"
#include "cwsim_stm32.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <umockdev.h>
#include <unistd.h>

#define RIG_FAIL 125

/* A CW308 after default_setup() gets 7.3846 MHz (cw-usb-protocol.md §6.1): the application
 * model's UART runs from it (38400 baud). On a plain adapter rig the chip has its own clock. */
#define CHIP_CLOCK_HZ 7384600.0
#define MAX_EVENTS    256
#define MAX_FAULTS    16
#define INQ           8192
#define OUTQ          65536
#define LOOP_MS       10 /* longest sleep of the main loop: how soon COMMAND's exit is seen */

typedef enum src { SRC_HIGH, SRC_LOW, SRC_DTR, SRC_RTS, SRC_NDTR, SRC_NRTS, SRC_BRK } src;

typedef struct line_event {
    uint64_t t_ns;
    int modem, brk;
} line_event;

typedef struct pending {
    uint8_t byte;
    cwsim_uart_format fmt;
    uint64_t end_ns;
} pending;

typedef struct rig {
    /* options */
    const char *port; /* "ttyUSB0" or "ttyACM0" */
    const char *vid, *pid, *manufacturer, *product, *serial;
    const char *part, *state_dir, *app, *relay, *shim, *log_path;
    const char *faults[MAX_FAULTS];
    size_t n_faults;
    src nrst, boot0;
    int start_modem;
    unsigned long unplug_after;
    int hold_lock, hold_excl;
    long client_uid;
    char **command;

    /* shared with umockdev's ioctl thread */
    GMutex lock;
    int modem, brk;
    line_event ev[MAX_EVENTS];
    size_t ev_head, ev_len;
    int wake[2];

    /* main thread */
    UMockdevTestbed *tb;
    char devnode[64];
    char syspath[256];
    char slave[64];
    int master, keep, relay_fd;
    uint64_t t0;
    cwsim *sim;
    cwsim_stm32 *chip;
    cwsim_stm32_mode mode;
    pending inq[INQ];
    size_t in_head, in_len;
    uint64_t wire_free_ns;
    uint8_t outq[OUTQ];
    size_t out_len;
    unsigned long from_client;
    int unplugged;
    FILE *log;
} rig;

static rig R;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "serial_rig: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(RIG_FAIL);
}

/* One event line, "<ms since start> <event>". */
__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
    if (R.log == NULL)
        return;
    fprintf(R.log, "%.1f ", (double)(mono_ns() - R.t0) / 1e6);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(R.log, fmt, ap);
    va_end(ap);
    fputc('\n', R.log);
    fflush(R.log);
}

static uint64_t now_ns(void)
{
    return mono_ns() - R.t0;
}

/* ---- options -------------------------------------------------------------------------- */

static src parse_src(const char *s)
{
    static const struct {
        const char *name;
        src v;
    } t[] = {{"high", SRC_HIGH}, {"low", SRC_LOW},   {"dtr", SRC_DTR}, {"rts", SRC_RTS},
             {"!dtr", SRC_NDTR}, {"!rts", SRC_NRTS}, {"brk", SRC_BRK}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].name) == 0)
            return t[i].v;
    die("unknown wiring '%s' (high, low, dtr, rts, !dtr, !rts, brk)", s);
    return SRC_HIGH;
}

static const char usage_text[] =
    "usage: serial_rig [OPTIONS] -- COMMAND [ARGS...]\n"
    "  --port ttyUSB0|ttyACM0      the adapter's tty (default ttyUSB0)\n"
    "  --vid HEX --pid HEX         its USB IDs (default 0403:6001, an FT232R)\n"
    "  --manufacturer S --product S --serial S   its USB strings\n"
    "  --chip PART                 a simulated STM32 on the wire (default stm32f100xb)\n"
    "  --relay PTY                 the wire goes to PTY instead (cwlua sim serve --pty)\n"
    "  --sim-state DIR --sim-app MODEL --sim-fault F   the chip's state, application, faults\n"
    "  --nrst W --boot0 W          wiring: high, low, dtr, rts (the adapter's active-low pins),\n"
    "                              !dtr, !rts (through an inverter), brk (low during a break);\n"
    "                              default nrst high, boot0 high\n"
    "  --lines-at-start L          modem bits set at the start: dtr,rts (default: Linux\n"
    "                              asserts both when a port is opened), dtr, rts or none\n"
    "  --unplug-after N            hang up and remove the port after N bytes from COMMAND\n"
    "  --hold-lock                 keep the port open and flock()ed (another program)\n"
    "  --hold-excl                 keep the port open in exclusive mode (TIOCEXCL; the\n"
    "                              kernel then refuses opens by other users)\n"
    "  --client-uid UID            run COMMAND as UID; the node is root:dialout 0660\n"
    "  --shim LIB                  the parity shim, preloaded after umockdev's library\n"
    "  --log FILE                  events: lines, chip modes, summary\n";

static void parse_args(int argc, char **argv)
{
    R.port = "ttyUSB0";
    R.vid = "0403";
    R.pid = "6001";
    R.manufacturer = "FTDI";
    R.product = "FT232R USB UART";
    R.serial = "A50285BI";
    R.part = "stm32f100xb";
    R.nrst = SRC_HIGH;
    R.boot0 = SRC_HIGH;
    R.start_modem = TIOCM_DTR | TIOCM_RTS;
    R.client_uid = -1;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && (v != NULL || (die("%s needs a value", name), 0)) && ++i)
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (OPT("--port"))
            R.port = v;
        else if (OPT("--vid"))
            R.vid = v;
        else if (OPT("--pid"))
            R.pid = v;
        else if (OPT("--manufacturer"))
            R.manufacturer = v;
        else if (OPT("--product"))
            R.product = v;
        else if (OPT("--serial"))
            R.serial = v;
        else if (OPT("--chip"))
            R.part = v;
        else if (OPT("--relay"))
            R.relay = v;
        else if (OPT("--sim-state"))
            R.state_dir = v;
        else if (OPT("--sim-app"))
            R.app = v;
        else if (OPT("--sim-fault")) {
            if (R.n_faults == MAX_FAULTS)
                die("too many --sim-fault");
            R.faults[R.n_faults++] = v;
        } else if (OPT("--nrst"))
            R.nrst = parse_src(v);
        else if (OPT("--boot0"))
            R.boot0 = parse_src(v);
        else if (OPT("--lines-at-start")) {
            R.start_modem = 0;
            if (strstr(v, "dtr") != NULL)
                R.start_modem |= TIOCM_DTR;
            if (strstr(v, "rts") != NULL)
                R.start_modem |= TIOCM_RTS;
        } else if (OPT("--unplug-after"))
            R.unplug_after = strtoul(v, NULL, 0);
        else if (strcmp(a, "--hold-lock") == 0)
            R.hold_lock = 1;
        else if (strcmp(a, "--hold-excl") == 0)
            R.hold_excl = 1;
        else if (OPT("--client-uid"))
            R.client_uid = strtol(v, NULL, 0);
        else if (OPT("--shim"))
            R.shim = v;
        else if (OPT("--log"))
            R.log_path = v;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        } else
            die("unknown option '%s'", a);
#undef OPT
    }
    if (i >= argc)
        die("no COMMAND given (serial_rig [OPTIONS] -- COMMAND ...)");
    R.command = argv + i;
}

/* ---- the lines -------------------------------------------------------------------------- */

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

/* Called on umockdev's thread: remember the change with its time, wake the main loop. */
static void lines_changed_locked(void)
{
    if (R.ev_len < MAX_EVENTS) {
        line_event *e = &R.ev[(R.ev_head + R.ev_len) % MAX_EVENTS];
        e->t_ns = now_ns();
        e->modem = R.modem;
        e->brk = R.brk;
        R.ev_len++;
    }
    char b = 1;
    ssize_t w = write(R.wake[1], &b, 1);
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
        g_mutex_lock(&R.lock);
        v = R.modem | TIOCM_CTS | TIOCM_DSR | TIOCM_CAR;
        g_mutex_unlock(&R.lock);
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
        g_mutex_lock(&R.lock);
        if (req == TIOCMBIS)
            R.modem |= v;
        else if (req == TIOCMBIC)
            R.modem &= ~v;
        else
            R.modem = v;
        lines_changed_locked();
        g_mutex_unlock(&R.lock);
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    case TIOCSBRK:
    case TIOCCBRK:
        g_mutex_lock(&R.lock);
        R.brk = req == TIOCSBRK;
        lines_changed_locked();
        g_mutex_unlock(&R.lock);
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

/* Main thread: apply the queued line changes to the chip in order. */
static void apply_lines(void)
{
    for (;;) {
        line_event e;
        g_mutex_lock(&R.lock);
        int have = R.ev_len > 0;
        if (have) {
            e = R.ev[R.ev_head];
            R.ev_head = (R.ev_head + 1) % MAX_EVENTS;
            R.ev_len--;
        }
        g_mutex_unlock(&R.lock);
        if (!have)
            return;
        int nrst = level_of(R.nrst, e.modem, e.brk), boot0 = level_of(R.boot0, e.modem, e.brk);
        logf_("lines DTR=%d RTS=%d BRK=%d nrst=%s boot0=%s", (e.modem & TIOCM_DTR) != 0,
              (e.modem & TIOCM_RTS) != 0, e.brk, lv(nrst), lv(boot0));
        if (R.chip != NULL) {
            uint64_t t = now_ns();
            cwsim_stm32_set_boot0(R.chip, boot0, t);
            cwsim_stm32_set_nrst(R.chip, !nrst, t);
        }
    }
}

/* ---- the wire ---------------------------------------------------------------------------- */

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
    return 115200.0;
}

/* The client's frame format from the pty's termios (read through the master) and the shim's
 * marker: CMSPAR = parity (+ PARODD: odd), PARODD alone = none, no marker = unknown (*bare). */
static cwsim_uart_format client_format(int *bare)
{
    cwsim_uart_format f = {115200.0, 8, CWSIM_PARITY_EVEN, 2};
    struct termios t;
    *bare = 1;
    if (tcgetattr(R.master, &t) != 0)
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

static void on_chip_tx(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns)
{
    (void)ctx;
    (void)end_ns;
    int bare;
    cwsim_uart_format f = client_format(&bare);
    uint8_t byte = frame->byte;
    if (bare) { /* nothing known about the client's parity: read in the chip's own format */
        f = frame->fmt;
        f.baud = client_format(&bare).baud;
    }
    (void)cwsim_uart_frame_decode(frame, &f, &byte);
    if (R.out_len < OUTQ)
        R.outq[R.out_len++] = byte;
}

static void flush_out(int fd)
{
    while (R.out_len > 0 && !R.unplugged) {
        ssize_t w = write(fd, R.outq, R.out_len);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EAGAIN)
                return;
            R.out_len = 0;
            return;
        }
        memmove(R.outq, R.outq + w, R.out_len - (size_t)w);
        R.out_len -= (size_t)w;
    }
}

/* The adapter is unplugged: the kernel hangs the tty up (read 0 / EIO, POLLHUP), then the
 * node disappears. */
static void unplug(void)
{
    if (R.unplugged)
        return;
    R.unplugged = 1;
    logf_("unplug after %lu bytes", R.from_client);
    if (ioctl(R.keep, TIOCVHANGUP) != 0)
        logf_("TIOCVHANGUP failed: %s", strerror(errno));
    umockdev_testbed_remove_device(R.tb, R.syspath);
}

/* Relay: give the other pty the client's speed, stop bits and parity marker, so that the
 * server behind it (cwlua-sim-serve) sees the format the client chose. */
static void relay_format(void)
{
    struct termios c, o;
    if (tcgetattr(R.master, &c) != 0 || tcgetattr(R.relay_fd, &o) != 0)
        return;
    const tcflag_t keep = CSTOPB | PARODD | CMSPAR;
    if (cfgetospeed(&c) == cfgetospeed(&o) && (c.c_cflag & keep) == (o.c_cflag & keep))
        return;
    cfmakeraw(&o);
    cfsetispeed(&o, cfgetospeed(&c));
    cfsetospeed(&o, cfgetospeed(&c));
    o.c_cflag = (o.c_cflag & ~keep) | (c.c_cflag & keep);
    tcsetattr(R.relay_fd, TCSANOW, &o);
}

static void read_client(void)
{
    uint8_t buf[512];
    size_t room = INQ - R.in_len;
    if (room == 0)
        return;
    ssize_t n = read(R.master, buf, room < sizeof buf ? room : sizeof buf);
    if (n <= 0)
        return;
    if (R.relay_fd >= 0) { /* relay: straight on; the other end paces */
        relay_format();
        ssize_t w = write(R.relay_fd, buf, (size_t)n);
        (void)w;
        R.from_client += (unsigned long)n;
        if (R.unplug_after && R.from_client >= R.unplug_after)
            unplug();
        return;
    }
    int bare;
    cwsim_uart_format f = client_format(&bare);
    if (bare)
        f.parity = CWSIM_PARITY_EVEN;
    uint64_t frame = cwsim_uart_frame_ns(&f), now = now_ns();
    for (ssize_t i = 0; i < n; i++) {
        uint64_t start = R.wire_free_ns > now ? R.wire_free_ns : now;
        pending *p = &R.inq[(R.in_head + R.in_len) % INQ];
        p->byte = buf[i];
        p->fmt = f;
        p->end_ns = start + frame;
        R.wire_free_ns = p->end_ns;
        R.in_len++;
    }
}

static const char *mode_name(cwsim_stm32_mode m)
{
    static const char *const names[] = {"off",    "reset", "starting", "bootloader",
                                        "synced", "app",   "halted"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "?";
}

static void step_chip(void)
{
    uint64_t now = now_ns();
    while (R.in_len > 0 && R.inq[R.in_head].end_ns <= now) {
        pending *p = &R.inq[R.in_head];
        cwsim_stm32_rx_byte(R.chip, p->byte, &p->fmt, p->end_ns);
        R.in_head = (R.in_head + 1) % INQ;
        R.in_len--;
        R.from_client++;
        if (R.unplug_after && R.from_client >= R.unplug_after)
            unplug();
    }
    cwsim_stm32_advance(R.chip, now);
    cwsim_stm32_mode m = cwsim_stm32_get_mode(R.chip);
    if (m != R.mode) {
        R.mode = m;
        logf_("chip %s", mode_name(m));
    }
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* The testbed's tree readable, and umockdev's ioctl sockets connectable, by anyone. */
static int open_up(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)type;
    (void)f;
    if (S_ISDIR(st->st_mode))
        chmod(path, 0755);
    else if (S_ISSOCK(st->st_mode))
        chmod(path, 0777);
    else if (S_ISREG(st->st_mode))
        chmod(path, 0644);
    return 0;
}

static void make_testbed(void)
{
    int acm = strncmp(R.port, "ttyACM", 6) == 0;
    const char *usbdev = "/devices/pci0000:00/0000:00:14.0/usb1/1-1";
    char desc[4096];
    /* libserialport walks from /sys/class/tty/<name> up to the USB device for idVendor and
     * the strings (test-harnesses.md §2.2). */
    snprintf(desc, sizeof desc,
             "P: %s\nN: bus/usb/001/002\nE: DEVNAME=/dev/bus/usb/001/002\nE: DEVTYPE=usb_device\n"
             "E: SUBSYSTEM=usb\nA: busnum=1\\n\nA: devnum=2\\n\nA: idVendor=%s\\n\n"
             "A: idProduct=%s\\n\nA: manufacturer=%s\\n\nA: product=%s\\n\nA: serial=%s\\n\n"
             "A: speed=12\\n\n\n"
             "P: %s/1-1:1.0\nE: DEVTYPE=usb_interface\nE: DRIVER=%s\nE: SUBSYSTEM=usb\n"
             "A: bInterfaceClass=%s\\n\nA: bInterfaceNumber=00\\n\n\n"
             "P: %s/1-1:1.0/tty/%s\nN: %s\nE: DEVNAME=/dev/%s\nE: SUBSYSTEM=tty\n"
             "E: MAJOR=%s\nE: MINOR=0\nA: dev=%s:0\\n\nL: device=../../../1-1:1.0\n",
             usbdev, R.vid, R.pid, R.manufacturer, R.product, R.serial, usbdev,
             acm ? "cdc_acm" : "ftdi_sio", acm ? "02" : "ff", usbdev, R.port, R.port, R.port,
             acm ? "166" : "188", acm ? "166" : "188");
    snprintf(R.devnode, sizeof R.devnode, "/dev/%s", R.port);
    snprintf(R.syspath, sizeof R.syspath, "/sys%s/1-1:1.0/tty/%s", usbdev, R.port);
    R.tb = umockdev_testbed_new();
    GError *err = NULL;
    if (!umockdev_testbed_add_from_string(R.tb, desc, &err))
        die("umockdev: %s", err->message);
    UMockdevIoctlBase *h = umockdev_ioctl_base_new();
    g_signal_connect(h, "handle-ioctl", G_CALLBACK(on_ioctl), NULL);
    if (!umockdev_testbed_attach_ioctl(R.tb, R.devnode, h, &err))
        die("umockdev attach_ioctl: %s", err->message);
    g_object_unref(h);
    int m = umockdev_testbed_get_dev_fd(R.tb, R.devnode);
    if (m < 0)
        die("umockdev: no pty behind %s", R.devnode);
    R.master = m;
    unsigned n = 0;
    if (ioctl(m, TIOCGPTN, &n) != 0)
        die("TIOCGPTN: %s", strerror(errno));
    snprintf(R.slave, sizeof R.slave, "/dev/pts/%u", n);
    /* Keep the slave open: otherwise the master reads EIO whenever the client has it closed
     * (test-harnesses.md §2.1), and this fd hangs the line up on --unplug-after. */
    R.keep = open(R.slave, O_RDWR | O_NOCTTY);
    if (R.keep < 0)
        die("open %s: %s", R.slave, strerror(errno));
    struct termios t;
    if (tcgetattr(R.keep, &t) == 0) {
        cfmakeraw(&t);
        cfsetispeed(&t, B115200);
        cfsetospeed(&t, B115200);
        tcsetattr(R.keep, TCSANOW, &t);
    }
    int fl = fcntl(m, F_GETFL);
    fcntl(m, F_SETFL, fl | O_NONBLOCK);
    if (R.hold_lock && flock(R.keep, LOCK_EX | LOCK_NB) != 0)
        die("flock: %s", strerror(errno));
    if (R.hold_excl && ioctl(R.keep, TIOCEXCL) != 0)
        die("TIOCEXCL: %s", strerror(errno));
    if (R.client_uid >= 0) { /* a port the user may not open, in a tree the user may walk */
        gchar *root = umockdev_testbed_get_root_dir(R.tb);
        nftw(root, open_up, 16, FTW_PHYS);
        g_free(root);
        struct group *g = getgrnam("dialout");
        mode_t mode = R.hold_excl ? 0666 : 0660; /* --hold-excl: only the lock stops them */
        if (chown(R.slave, 0, g ? g->gr_gid : 20) != 0 || chmod(R.slave, mode) != 0)
            die("cannot restrict %s: %s", R.slave, strerror(errno));
    }
}

static void make_chip(void)
{
    char err[512] = "";
    if (cwsim_new(&R.sim, err, sizeof err) != 0)
        die("%s", err);
    for (size_t i = 0; i < R.n_faults; i++)
        if (cwsim_fault_parse(R.sim, R.faults[i], err, sizeof err) != 0)
            die("%s", err);
    if (cwsim_state_open(R.sim, R.state_dir, err, sizeof err) != 0)
        die("%s", err);
    if (cwsim_stm32_new(R.sim, R.part, &R.chip, err, sizeof err) != 0)
        die("%s", err);
    if (R.app != NULL && cwsim_stm32_set_app(R.chip, R.app, err, sizeof err) != 0)
        die("%s", err);
    cwsim_stm32_set_tx(R.chip, on_chip_tx, NULL);
    int nrst = level_of(R.nrst, R.modem, 0), boot0 = level_of(R.boot0, R.modem, 0);
    logf_("lines DTR=%d RTS=%d BRK=0 nrst=%s boot0=%s", (R.modem & TIOCM_DTR) != 0,
          (R.modem & TIOCM_RTS) != 0, lv(nrst), lv(boot0));
    cwsim_stm32_set_boot0(R.chip, boot0, 0);
    cwsim_stm32_set_nrst(R.chip, !nrst, 0);
    cwsim_stm32_set_clock(R.chip, CHIP_CLOCK_HZ, 0);
    cwsim_stm32_set_power(R.chip, 1, 0);
    R.mode = CWSIM_STM32_OFF;
    logf_("chip off");
}

static pid_t spawn(void)
{
    gchar *root = umockdev_testbed_get_root_dir(R.tb);
    char preload[1024];
    snprintf(preload, sizeof preload, "libumockdev-preload.so.0%s%s", R.shim ? " " : "",
             R.shim ? R.shim : "");
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        setenv("LD_PRELOAD", preload, 1);
        setenv("UMOCKDEV_DIR", root, 1);
        if (R.client_uid >= 0) {
            gid_t gid = (gid_t)R.client_uid;
            if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid((uid_t)R.client_uid) != 0)
                _exit(RIG_FAIL);
        }
        execvp(R.command[0], R.command);
        fprintf(stderr, "serial_rig: cannot run %s: %s\n", R.command[0], strerror(errno));
        _exit(127);
    }
    g_free(root);
    return pid;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    if (R.log_path != NULL && (R.log = fopen(R.log_path, "w")) == NULL)
        die("%s: %s", R.log_path, strerror(errno));
    g_mutex_init(&R.lock);
    if (pipe(R.wake) != 0)
        die("pipe: %s", strerror(errno));
    fcntl(R.wake[0], F_SETFL, O_NONBLOCK);
    fcntl(R.wake[1], F_SETFL, O_NONBLOCK);
    R.t0 = mono_ns();
    R.modem = R.start_modem;
    R.relay_fd = -1;
    make_testbed();
    if (R.relay != NULL) {
        R.relay_fd = open(R.relay, O_RDWR | O_NOCTTY | O_NONBLOCK);
        if (R.relay_fd < 0)
            die("open %s: %s", R.relay, strerror(errno));
    } else {
        make_chip();
    }

    pid_t child = spawn();
    int status = 0;
    for (;;) {
        if (waitpid(child, &status, WNOHANG) == child) {
            /* COMMAND's ioctls all returned before it exited, so their line changes are
             * queued: apply them, or a change made just before exiting goes unseen */
            apply_lines();
            if (R.chip != NULL)
                step_chip();
            break;
        }
        char b[64];
        while (read(R.wake[0], b, sizeof b) > 0) {
        }
        apply_lines();
        if (R.chip != NULL)
            step_chip();
        flush_out(R.master);
        if (R.relay_fd >= 0 && !R.unplugged) { /* the other end's replies go to the client */
            uint8_t buf[512];
            ssize_t n;
            while ((n = read(R.relay_fd, buf, sizeof buf)) > 0) {
                ssize_t w = write(R.master, buf, (size_t)n);
                (void)w;
            }
        }
        int timeout = LOOP_MS;
        if (R.chip != NULL) {
            uint64_t next = cwsim_stm32_next_event_ns(R.chip), now = now_ns();
            if (R.in_len > 0 && R.inq[R.in_head].end_ns < next)
                next = R.inq[R.in_head].end_ns;
            if (next != UINT64_MAX) {
                uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
                if (ms < (uint64_t)timeout)
                    timeout = (int)ms;
            }
        }
        struct pollfd pf[3] = {{R.wake[0], POLLIN, 0},
                               {R.unplugged ? -1 : R.master, POLLIN, 0},
                               {R.relay_fd >= 0 && !R.unplugged ? R.relay_fd : -1, POLLIN, 0}};
        if (poll(pf, 3, timeout) < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (pf[1].revents & POLLIN)
            read_client();
    }
    if (R.chip != NULL) {
        cwsim_stm32_counters c;
        cwsim_stm32_counters_get(R.chip, &c);
        logf_("summary mode=%s resets=%llu rx_frames=%llu rx_errors=%llu acks=%llu nacks=%llu",
              mode_name(cwsim_stm32_get_mode(R.chip)), (unsigned long long)c.resets,
              (unsigned long long)c.rx_frames, (unsigned long long)c.rx_errors,
              (unsigned long long)c.acks, (unsigned long long)c.nacks);
        cwsim_stm32_free(R.chip); /* saves the chip's memories */
        cwsim_free(R.sim);
    }
    if (R.log != NULL)
        fclose(R.log);
    close(R.keep);
    if (!R.unplugged)
        umockdev_testbed_detach_ioctl(R.tb, R.devnode, NULL);
    g_object_unref(R.tb); /* removes the testbed's folder */
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* SPDX-License-Identifier: MIT */
/* serial_rig: a plain USB serial adapter wired to a simulated STM32, for the serial-adapter
 * tests. Hardware-free, as test-harnesses.md §2.2 (A) describes, and the same adapter as
 * `cwlua sim adapter`'s (tools/common/usbserial.c):
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
#include "usbserial.h"

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
#include <unistd.h>

#define RIG_FAIL 125

/* A CW308 after default_setup() gets 7.3846 MHz (cw-usb-protocol.md §6.1): the application
 * model's UART runs from it (38400 baud). On a plain adapter rig the chip has its own clock. */
#define CHIP_CLOCK_HZ 7384600.0
#define MAX_FAULTS    16
#define LOOP_MS       10 /* longest sleep of the main loop: how soon COMMAND's exit is seen */

typedef struct rig {
    /* options */
    usbserial_usb usb;
    const char *part, *state_dir, *app, *relay, *shim, *log_path;
    const char *faults[MAX_FAULTS];
    size_t n_faults;
    usbserial_wire nrst, boot0;
    int start_modem;
    unsigned long unplug_after;
    int hold_lock, hold_excl;
    long client_uid;
    char **command;

    usbserial line; /* shared with umockdev's ioctl thread, see usbserial.h */

    /* main thread */
    int relay_fd;
    cwsim *sim;
    cwsim_stm32 *chip;
    cwsim_stm32_mode mode;
    unsigned long from_client;
    int unplugged;
    FILE *log;
} rig;

static rig R;

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

static uint64_t now_ns(void)
{
    return usbserial_now_ns(&R.line);
}

/* One event line, "<ms since start> <event>". */
__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
    if (R.log == NULL)
        return;
    fprintf(R.log, "%.1f ", (double)now_ns() / 1e6);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(R.log, fmt, ap);
    va_end(ap);
    fputc('\n', R.log);
    fflush(R.log);
}

/* ---- options -------------------------------------------------------------------------- */

static usbserial_wire parse_wire(const char *s)
{
    usbserial_wire w;
    if (usbserial_wire_parse(s, &w) != 0)
        die("unknown wiring '%s' (high, low, dtr, rts, !dtr, !rts, brk)", s);
    return w;
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
    R.usb.port = "ttyUSB0";
    R.usb.vid = "0403";
    R.usb.pid = "6001";
    R.usb.manufacturer = "FTDI";
    R.usb.product = "FT232R USB UART";
    R.usb.serial = "A50285BI";
    R.part = "stm32f100xb";
    R.nrst = WIRE_HIGH;
    R.boot0 = WIRE_HIGH;
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
            R.usb.port = v;
        else if (OPT("--vid"))
            R.usb.vid = v;
        else if (OPT("--pid"))
            R.usb.pid = v;
        else if (OPT("--manufacturer"))
            R.usb.manufacturer = v;
        else if (OPT("--product"))
            R.usb.product = v;
        else if (OPT("--serial"))
            R.usb.serial = v;
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
            R.nrst = parse_wire(v);
        else if (OPT("--boot0"))
            R.boot0 = parse_wire(v);
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

static const char *lv(int level)
{
    return level ? "high" : "low";
}

/* Main thread: apply the queued line changes to the chip in order. */
static void apply_lines(void)
{
    usbserial_lines e;
    while (usbserial_next_change(&R.line, &e)) {
        int nrst = usbserial_level(R.nrst, e.modem, e.brk),
            boot0 = usbserial_level(R.boot0, e.modem, e.brk);
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

/* The adapter is unplugged: the kernel hangs the tty up (read 0 / EIO, POLLHUP), then the
 * node disappears. */
static void unplug(void)
{
    if (R.unplugged)
        return;
    R.unplugged = 1;
    logf_("unplug after %lu bytes", R.from_client);
    if (ioctl(R.line.keep, TIOCVHANGUP) != 0)
        logf_("TIOCVHANGUP failed: %s", strerror(errno));
    umockdev_testbed_remove_device(R.line.tb, R.line.syspath);
}

/* Relay: give the other pty the client's speed, stop bits and parity marker, so that the
 * server behind it (cwlua-sim-serve) sees the format the client chose. */
static void relay_format(void)
{
    struct termios c, o;
    if (tcgetattr(R.line.master, &c) != 0 || tcgetattr(R.relay_fd, &o) != 0)
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
    ssize_t n = usbserial_read_client(&R.line, buf, sizeof buf);
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
    usbserial_send(&R.line, buf, (size_t)n);
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
    while (usbserial_deliver(&R.line, R.chip, now)) {
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
    char err[512];
    if (usbserial_testbed(&R.line, &R.usb, B115200, err, sizeof err) != 0)
        die("%s", err);
    /* the kept slave also hangs the line up on --unplug-after, and holds the lock */
    if (R.hold_lock && flock(R.line.keep, LOCK_EX | LOCK_NB) != 0)
        die("flock: %s", strerror(errno));
    if (R.hold_excl && ioctl(R.line.keep, TIOCEXCL) != 0)
        die("TIOCEXCL: %s", strerror(errno));
    if (R.client_uid >= 0) { /* a port the user may not open, in a tree the user may walk */
        gchar *root = umockdev_testbed_get_root_dir(R.line.tb);
        nftw(root, open_up, 16, FTW_PHYS);
        g_free(root);
        struct group *g = getgrnam("dialout");
        mode_t mode = R.hold_excl ? 0666 : 0660; /* --hold-excl: only the lock stops them */
        if (chown(R.line.slave, 0, g ? g->gr_gid : 20) != 0 || chmod(R.line.slave, mode) != 0)
            die("cannot restrict %s: %s", R.line.slave, strerror(errno));
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
    cwsim_stm32_set_tx(R.chip, usbserial_chip_tx, &R.line);
    int modem = R.line.modem;
    int nrst = usbserial_level(R.nrst, modem, 0), boot0 = usbserial_level(R.boot0, modem, 0);
    logf_("lines DTR=%d RTS=%d BRK=0 nrst=%s boot0=%s", (modem & TIOCM_DTR) != 0,
          (modem & TIOCM_RTS) != 0, lv(nrst), lv(boot0));
    cwsim_stm32_set_boot0(R.chip, boot0, 0);
    cwsim_stm32_set_nrst(R.chip, !nrst, 0);
    cwsim_stm32_set_clock(R.chip, CHIP_CLOCK_HZ, 0);
    cwsim_stm32_set_power(R.chip, 1, 0);
    R.mode = CWSIM_STM32_OFF;
    logf_("chip off");
}

static pid_t spawn(void)
{
    gchar *root = umockdev_testbed_get_root_dir(R.line.tb);
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
    if (usbserial_init(&R.line, R.start_modem) != 0)
        die("pipe: %s", strerror(errno));
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
        usbserial_drain_wake(&R.line);
        apply_lines();
        if (R.chip != NULL)
            step_chip();
        if (!R.unplugged)
            usbserial_flush(&R.line);
        if (R.relay_fd >= 0 && !R.unplugged) { /* the other end's replies go to the client */
            uint8_t buf[512];
            ssize_t n;
            while ((n = read(R.relay_fd, buf, sizeof buf)) > 0) {
                ssize_t w = write(R.line.master, buf, (size_t)n);
                (void)w;
            }
        }
        int timeout = R.chip != NULL ? usbserial_poll_ms(&R.line, R.chip, LOOP_MS) : LOOP_MS;
        struct pollfd pf[3] = {{R.line.wake[0], POLLIN, 0},
                               {R.unplugged ? -1 : R.line.master, POLLIN, 0},
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
    usbserial_free(&R.line, !R.unplugged); /* removes the testbed's folder */
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

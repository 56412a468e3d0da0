/* SPDX-License-Identifier: MIT */
/* cwlua-sim-serve: `cwlua sim serve PART --pty` (contract.md §5). A simulated STM32's ROM
 * bootloader on a pseudo-terminal, paced in real time, for tools we did not write (Debian's
 * stm32flash). It prints only the pty's path on stdout and serves until SIGTERM/SIGINT/SIGHUP,
 * keeping the chip's memories in the state folder. The cwlua binary execs this program.
 *
 * The line: each byte the client writes occupies the wire for one frame at the baud the
 * client set on the pty (tcsetattr on the slave; we read it through the master), and reaches
 * the chip when its stop bit ends; the chip's replies are written to the pty when theirs end.
 * A bare pty cannot carry parity (test-harnesses.md §2.1): there the client's bytes are taken as
 * the 8E1 frames the chip expects. The parity shim of tests/stm32 (test-harnesses.md §2.4,
 * extended) leaves a marker in the pty's flags the kernel keeps: CMSPAR = parity requested
 * (PARODD = odd), PARODD alone = no parity requested. With the marker the frames carry the
 * client's real format and the chip checks 8E1. docs/simulator-stm32.md has the details.
 *
 * A real chip answers within microseconds, and clients count on it: stm32flash gives each
 * answer half a second (its serial_posix.c reads with VTIME 5) and its sync has no second try.
 * So the server answers when a frame's stop bit ends (ppoll to the nanosecond, not a millisecond
 * tick), has the chip booted before it announces the pty, never waits for the disk while it
 * serves (a writer thread saves the chip's memories), and asks for a higher scheduling priority
 * where it may. */
#define _GNU_SOURCE /* posix_openpt, grantpt, unlockpt, ptsname; ppoll */

#include "cwsim.h"
#include "cwsim_stm32.h"
#include "statewriter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PROG       "cwlua sim serve"
#define EXIT_USAGE 2
#define EXIT_FAIL  1
#define MAX_FAULTS 64

/* A CW308 on a board after default_setup() gets 7.3846 MHz on HS2 (cw-usb-protocol.md §6.1,
 * target-protocols.md §A.7): the clock the application model runs from here. */
#define SERVE_CLOCK_HZ 7384600.0
/* A client's baud we cannot read (B0, unknown speed): the CW programming rate (§A.1). */
#define DEFAULT_BAUD 115200.0
/* While no client has the pty open, look for one this often. */
#define RECONNECT_MS 20
/* How long the board has been powered when the pty is announced: the chip is in its bootloader
 * (it starts 1 ms after power-up), as on a board at rest, so a client's first 0x7F is heard. */
#define SETTLE_NS 10000000ull
/* The niceness asked for while serving; refused without the privilege, which is fine. */
#define SERVE_NICE (-10)

#define INQ  8192  /* client bytes on their way to the chip */
#define OUTQ 65536 /* chip bytes waiting for the pty */

static const char usage_text[] =
    "usage: cwlua sim serve PART --pty [OPTIONS]\n"
    "\n"
    "Serve a simulated STM32's ROM bootloader (AN3155) on a pseudo-terminal, paced in real\n"
    "time, for tools such as stm32flash. Prints only the pty's path on stdout, then serves\n"
    "until killed (SIGTERM/SIGINT), keeping flash, option bytes and protection in the state\n"
    "folder.\n"
    "\n"
    "PART is a part name (stm32f030x6, stm32f051x8, stm32f071xb, stm32f100xb, stm32f103xb,\n"
    "stm32f205xe, stm32f303xc, stm32f415xg, stm32l051x8, stm32l151xb, stm32l433xc), a recipe\n"
    "name (stm32f0 .. stm32f4, stm32l0, stm32l1, stm32l4) or a ChipWhisperer platform\n"
    "(CW308_STM32F0 .. CW308_STM32F4, CWLITEARM, CWNANO), any case.\n"
    "\n"
    "options:\n"
    "  --pty                  serve on a new pseudo-terminal (the only way for now)\n"
    "  --sim-state DIR        state folder (default $XDG_STATE_HOME/cwlua/sim), locked\n"
    "  --sim-fault NAME[=V]   repeatable: read-protected, write-protected[=SECTORS],\n"
    "                         already-synced, slow-erase[=F], boot0-stuck-low, baud-skew=PCT\n"
    "  --sim-seed N           seed of the simulator's random faults (default 1)\n"
    "  --sim-app MODEL        the application after Go: silent (default), banner, ss1-aes\n"
    "                         or ss2-aes (SimpleSerial v1.1 / v2.1 AES-128)\n"
    "  -h, --help             this text\n"
    "\n"
    "The chip's bootloader expects 8E1 at 1200..115200 baud. A bare pty cannot carry parity,\n"
    "so there it accepts 8N1 (stm32flash -m 8n1); under the parity shim of the test suite it\n"
    "checks 8E1. BOOT0 is high: the chip runs its bootloader until a Go. See\n"
    "docs/simulator-stm32.md.\n";

typedef struct options {
    const char *part;
    int pty;
    const char *state_dir;
    const char *faults[MAX_FAULTS];
    size_t n_faults;
    unsigned long long seed;
    int have_seed;
    const char *app;
    const char *seed_text; /* --sim-seed as given, to name it if it is given twice */
} options;

typedef struct pending {
    uint8_t byte;
    cwsim_uart_format fmt;
    uint64_t end_ns;
} pending;

typedef struct server {
    cwsim_stm32 *chip;
    int master;
    const char *slave_path;
    int connected;
    /* client -> chip */
    pending inq[INQ];
    size_t in_head, in_len;
    uint64_t wire_free_ns;
    /* chip -> client */
    uint8_t outq[OUTQ];
    size_t out_len;
    uint64_t out_dropped;
} server;

static volatile sig_atomic_t stop_signal;
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int e = errno;
    stop_signal = sig;
    if (wake_pipe[1] >= 0) {
        char b = 1;
        ssize_t r = write(wake_pipe[1], &b, 1);
        (void)r;
    }
    errno = e;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; run '" PROG " --help'\n");
    va_end(ap);
    exit(EXIT_USAGE);
}

/* "--opt VALUE" or "--opt=VALUE" */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        usage_error("%s needs a value", name);
    return argv[++*i];
}

/* An option that is not repeatable, given twice: the second value would win unseen (the
 * wording of cwlua's own command line, contract.md §3.1). */
static void once(const char *name, const char *old, const char *value)
{
    if (old != NULL)
        usage_error("option '%s' is given twice ('%s' and '%s'); give it once", name, old, value);
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        } else if (strcmp(a, "--pty") == 0) {
            if (o->pty)
                usage_error("option '--pty' is given twice; give it once");
            o->pty = 1;
        } else if ((v = opt_value(argc, argv, &i, "--sim-state")) != NULL) {
            once("--sim-state", o->state_dir, v);
            if (*v == '\0')
                usage_error("%s needs a folder", "--sim-state");
            o->state_dir = v;
        } else if ((v = opt_value(argc, argv, &i, "--sim-fault")) != NULL) {
            if (o->n_faults == MAX_FAULTS)
                usage_error("too many --sim-fault options (at most %d)", MAX_FAULTS);
            o->faults[o->n_faults++] = v;
        } else if ((v = opt_value(argc, argv, &i, "--sim-seed")) != NULL) {
            once("--sim-seed", o->seed_text, v);
            o->seed_text = v;
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 0);
            if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0)
                usage_error("--sim-seed needs a whole number >= 0, not '%s'", v);
            o->have_seed = 1;
        } else if ((v = opt_value(argc, argv, &i, "--sim-app")) != NULL) {
            once("--sim-app", o->app, v);
            o->app = v;
        } else if (strcmp(a, "--adapter") == 0) {
            /* a pty has no DTR/RTS and libserialport refuses it: the adapter is its own helper */
            usage_error("a USB-serial adapter with reset and boot lines is 'cwlua sim adapter "
                        "PART -- COMMAND'");
        } else if (a[0] == '-' && a[1] != '\0') {
            usage_error("unknown option '%s'", a);
        } else if (o->part == NULL) {
            o->part = a;
        } else {
            usage_error("one PART only; unexpected '%s'", a);
        }
    }
    if (o->part == NULL)
        usage_error("a PART is needed, e.g. stm32f1 or stm32f100xb");
    if (cwsim_stm32_part_find(o->part) == NULL) {
        char list[512];
        size_t n = 0;
        list[0] = '\0';
        for (size_t k = 0; k < cwsim_stm32_part_count() && n < sizeof list; k++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", k ? ", " : "",
                             cwsim_stm32_part_at(k)->name);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        fprintf(stderr,
                PROG ": unknown part '%s'; parts: %s; or a recipe name stm32f0..stm32f4, "
                     "stm32l0, stm32l1, stm32l4 or a CW308_STM32Fx/CWLITEARM/CWNANO platform\n",
                o->part, list);
        exit(EXIT_USAGE);
    }
    if (!o->pty)
        usage_error("--pty is needed (serving on a pseudo-terminal is the only mode)");
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double speed_baud(speed_t s)
{
    static const struct {
        speed_t s;
        double baud;
    } t[] = {{B50, 50},           {B75, 75},           {B110, 110},         {B134, 134},
             {B150, 150},         {B200, 200},         {B300, 300},         {B600, 600},
             {B1200, 1200},       {B1800, 1800},       {B2400, 2400},       {B4800, 4800},
             {B9600, 9600},       {B19200, 19200},     {B38400, 38400},     {B57600, 57600},
             {B115200, 115200},   {B230400, 230400},   {B460800, 460800},   {B500000, 500000},
             {B576000, 576000},   {B921600, 921600},   {B1000000, 1000000}, {B1500000, 1500000},
             {B2000000, 2000000}, {B3000000, 3000000}, {B4000000, 4000000}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].s == s)
            return t[i].baud;
    return DEFAULT_BAUD;
}

/* The client's line format, as far as the pty shows it (see the file comment). *bare = 1 when
 * the pty carries no parity information. */
static cwsim_uart_format client_format(const server *s, int *bare)
{
    cwsim_uart_format f;
    struct termios t;
    f.baud = DEFAULT_BAUD;
    f.data_bits = 8;
    f.parity = CWSIM_PARITY_EVEN;
    f.stop_halves = 2;
    *bare = 1;
    if (tcgetattr(s->master, &t) != 0)
        return f;
    f.baud = speed_baud(cfgetospeed(&t));
    f.stop_halves = (t.c_cflag & CSTOPB) ? 4 : 2;
    tcflag_t c = t.c_cflag;
    if (c & PARENB) { /* a pty that does carry parity */
        *bare = 0;
        f.parity = (c & CMSPAR) ? ((c & PARODD) ? CWSIM_PARITY_MARK : CWSIM_PARITY_SPACE)
                                : ((c & PARODD) ? CWSIM_PARITY_ODD : CWSIM_PARITY_EVEN);
    } else if (c & CMSPAR) { /* the shim's marker: parity requested */
        *bare = 0;
        f.parity = (c & PARODD) ? CWSIM_PARITY_ODD : CWSIM_PARITY_EVEN;
    } else if (c & PARODD) { /* the shim's marker: no parity requested */
        *bare = 0;
        f.parity = CWSIM_PARITY_NONE;
    }
    return f;
}

/* The chip's frame as the client's UART reads it. On a bare pty the client is taken to read
 * in the chip's own format (no parity to check). */
static void on_chip_tx(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns)
{
    server *s = ctx;
    (void)end_ns;
    if (!s->connected)
        return; /* nobody listens: the bytes are lost, as on an unopened serial port */
    int bare;
    cwsim_uart_format f = client_format(s, &bare);
    uint8_t byte = frame->byte;
    if (!bare) {
        (void)cwsim_uart_frame_decode(frame, &f, &byte);
    } else {
        cwsim_uart_format g = frame->fmt;
        g.baud = f.baud;
        (void)cwsim_uart_frame_decode(frame, &g, &byte);
    }
    if (s->out_len == OUTQ) {
        s->out_dropped++;
        return;
    }
    s->outq[s->out_len++] = byte;
}

static void flush_out(server *s)
{
    while (s->out_len > 0 && s->connected) {
        ssize_t w = write(s->master, s->outq, s->out_len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            s->out_len = 0; /* EIO: the client went away */
            return;
        }
        memmove(s->outq, s->outq + w, s->out_len - (size_t)w);
        s->out_len -= (size_t)w;
    }
}

/* The client closed the pty: drop what it left unread, so the next client starts clean (a
 * serial port that nobody has open receives nothing). */
static void disconnected(server *s)
{
    s->connected = 0;
    s->out_len = 0;
    int fd = open(s->slave_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd >= 0) {
        tcflush(fd, TCIFLUSH);
        struct termios t; /* forget the parity shim's marker: the next client may be bare */
        if (tcgetattr(fd, &t) == 0 && (t.c_cflag & (PARODD | CMSPAR)) != 0) {
            t.c_cflag &= ~(tcflag_t)(PARODD | CMSPAR);
            tcsetattr(fd, TCSANOW, &t);
        }
        close(fd);
    }
}

/* No client has the pty open. Whatever a client wrote and left before we noticed it is
 * dropped, as by a serial port nobody listens on. */
static int master_hup(const server *s)
{
    struct pollfd p = {s->master, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || (p.revents & (POLLHUP | POLLERR)) == 0)
        return 0;
    uint8_t buf[512];
    while (read(s->master, buf, sizeof buf) > 0)
        ;
    return 1;
}

static void read_client(server *s, uint64_t now)
{
    uint8_t buf[512];
    size_t room = INQ - s->in_len;
    if (room == 0)
        return;
    ssize_t n = read(s->master, buf, room < sizeof buf ? room : sizeof buf);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            disconnected(s);
        return;
    }
    int bare;
    cwsim_uart_format f = client_format(s, &bare);
    if (bare) /* a bare pty cannot carry parity: the chip's own 8E1 at the client's baud */
        f.parity = CWSIM_PARITY_EVEN;
    uint64_t frame = cwsim_uart_frame_ns(&f);
    for (ssize_t i = 0; i < n; i++) {
        uint64_t start = s->wire_free_ns > now ? s->wire_free_ns : now;
        pending *p = &s->inq[(s->in_head + s->in_len) % INQ];
        p->byte = buf[i];
        p->fmt = f;
        p->end_ns = start + frame;
        s->wire_free_ns = p->end_ns;
        s->in_len++;
    }
}

static int open_pty(server *s)
{
    s->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (s->master < 0 || grantpt(s->master) != 0 || unlockpt(s->master) != 0)
        return -1;
    s->slave_path = ptsname(s->master);
    if (s->slave_path == NULL)
        return -1;
    int fl = fcntl(s->master, F_GETFL);
    if (fl < 0 || fcntl(s->master, F_SETFL, fl | O_NONBLOCK) != 0)
        return -1;
    /* raw 115200 8N1 until a client sets its own (the settings outlive the slave's close) */
    int fd = open(s->slave_path, O_RDWR | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        cfsetispeed(&t, B115200);
        cfsetospeed(&t, B115200);
        tcsetattr(fd, TCSANOW, &t);
    }
    close(fd);
    s->connected = 0;
    return 0;
}

/* t0: the monotonic time at which the simulated board was powered */
static int serve(server *s, uint64_t t0)
{
    while (!stop_signal) {
        uint64_t now = mono_ns() - t0;
        /* client bytes whose stop bit has ended reach the chip, in time order */
        while (s->in_len > 0 && s->inq[s->in_head].end_ns <= now) {
            pending *p = &s->inq[s->in_head];
            cwsim_stm32_rx_byte(s->chip, p->byte, &p->fmt, p->end_ns);
            s->in_head = (s->in_head + 1) % INQ;
            s->in_len--;
        }
        cwsim_stm32_advance(s->chip, now);
        if (!s->connected && !master_hup(s))
            s->connected = 1;
        flush_out(s);

        uint64_t next = cwsim_stm32_next_event_ns(s->chip);
        if (s->in_len > 0 && s->inq[s->in_head].end_ns < next)
            next = s->inq[s->in_head].end_ns;
        /* wake when the next event is due, to the nanosecond: a reply a tick late is a
         * reply a real chip would not make late */
        uint64_t wait_ns = UINT64_MAX;
        if (!s->connected)
            wait_ns = RECONNECT_MS * 1000000ull;
        if (next != UINT64_MAX) {
            uint64_t d = next > now ? next - now : 0;
            if (d < wait_ns)
                wait_ns = d;
        }
        if (wait_ns != UINT64_MAX && wait_ns > 60000000000ull)
            wait_ns = 60000000000ull;
        struct timespec ts = {(time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull)};
        struct pollfd pf[2] = {{wake_pipe[0], POLLIN, 0}, {-1, 0, 0}};
        if (s->connected) {
            pf[1].fd = s->master;
            pf[1].events = (short)((s->in_len < INQ ? POLLIN : 0) | (s->out_len ? POLLOUT : 0));
        }
        int r = ppoll(pf, 2, wait_ns == UINT64_MAX ? NULL : &ts, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
            return -1;
        }
        now = mono_ns() - t0;
        if (pf[1].revents & POLLIN)
            read_client(s, now);
        else if (pf[1].revents & (POLLHUP | POLLERR))
            disconnected(s);
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    char err[512] = "";
    parse_args(argc, argv, &o);

    cwsim *sim;
    if (cwsim_new(&sim, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_FAIL;
    }
    if (o.have_seed)
        cwsim_seed(sim, (uint64_t)o.seed);
    for (size_t i = 0; i < o.n_faults; i++)
        if (cwsim_fault_parse(sim, o.faults[i], err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s\n", err);
            cwsim_free(sim);
            return EXIT_USAGE;
        }
    if (cwsim_state_open(sim, o.state_dir, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        cwsim_free(sim);
        return EXIT_FAIL;
    }
    static server s;
    if (cwsim_stm32_new(sim, o.part, &s.chip, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        cwsim_free(sim);
        return EXIT_FAIL;
    }
    if (o.app != NULL && cwsim_stm32_set_app(s.chip, o.app, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        cwsim_stm32_free(s.chip);
        cwsim_free(sim);
        return EXIT_USAGE;
    }
    if (pipe(wake_pipe) != 0 || open_pty(&s) != 0) {
        fprintf(stderr, PROG ": cannot create a pseudo-terminal: %s\n", strerror(errno));
        cwsim_stm32_free(s.chip);
        cwsim_free(sim);
        return EXIT_FAIL;
    }
    fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The chip's memories reach the disk on a thread of their own (statewriter.h), which
     * takes no signals: SIGTERM always wakes the serving loop. */
    statewriter *writer;
    if (statewriter_start(&writer) != 0) {
        fprintf(stderr, PROG ": cannot start the state writer: %s\n", strerror(errno));
        cwsim_stm32_free(s.chip);
        cwsim_free(sim);
        return EXIT_FAIL;
    }
    cwsim_state_set_writer(sim, statewriter_take, writer);
    /* The serving thread only (Linux applies it per thread); without the privilege we serve
     * at the normal priority. */
    if (setpriority(PRIO_PROCESS, 0, SERVE_NICE) != 0) {
        /* not allowed: the default priority will do on a machine that is not overloaded */
    }

    /* A board at rest: powered, clocked, BOOT0 high, nRST released (contract.md §5), and
     * powered for SETTLE_NS already, so its bootloader listens before anyone knows the pty. */
    cwsim_stm32_set_tx(s.chip, on_chip_tx, &s);
    cwsim_stm32_set_boot0(s.chip, 1, 0);
    cwsim_stm32_set_clock(s.chip, SERVE_CLOCK_HZ, 0);
    cwsim_stm32_set_power(s.chip, 1, 0);
    cwsim_stm32_advance(s.chip, SETTLE_NS);
    uint64_t t0 = mono_ns() - SETTLE_NS;

    printf("%s\n", s.slave_path);
    fflush(stdout);

    int rc = serve(&s, t0) == 0 ? 0 : EXIT_FAIL;
    /* Everything queued reaches the disk first, then the last save is made here and now, so a
     * failure is ours to report. */
    cwsim_state_set_writer(sim, NULL, NULL);
    if (statewriter_stop(writer, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": cannot save the chip: %s\n", err);
        rc = EXIT_FAIL;
    }
    statewriter_free(writer);
    if (cwsim_stm32_save(s.chip, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": cannot save the chip: %s\n", err);
        rc = EXIT_FAIL;
    }
    cwsim_stm32_free(s.chip);
    cwsim_free(sim);
    close(s.master);
    return rc;
}

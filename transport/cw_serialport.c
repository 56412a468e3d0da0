/* SPDX-License-Identifier: MIT */
/* The libserialport backend: plain serial adapters (cw_serialport.h).
 *
 * libserialport opens the port, reads its USB description, applies line settings and drives
 * DTR, RTS and break. The data path uses the port's descriptor directly: every call is bounded
 * by its timeout (libserialport's blocking calls read a timeout of 0 as "forever"), and a
 * hang-up (an adapter unplugged, a pty whose other side closed) shows as POLLHUP or EIO, which
 * is reported as no_device instead of a read that times out again and again. A read waits in
 * blocking read() calls of at most READ_STEP_MS each (VMIN 0, VTIME set with the line
 * settings), as stm32flash does, so a byte that comes costs one call, not a poll() and a
 * read(); what is left of a timeout under one step is waited for with poll(). Writes go
 * through poll() on the non-blocking descriptor. */
#include "cw_serialport.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

/* UNIX98 pty slaves (/dev/pts/N) have majors 136..143 (Linux devices.txt): libserialport
 * cannot open those (test-harnesses.md §2.1), which deserves its own message. */
#define PTY_MAJOR_FIRST 136
#define PTY_MAJOR_LAST  143

typedef struct sp_dev {
    cw_dev dev; /* first: a cw_dev * is an sp_dev * */
    struct sp_port *port;
    int fd;
    int vtime; /* VMIN 0 and VTIME of READ_STEP_MS are set: a blocking read() waits that long */
    cw_serialport_info info;
} sp_dev;

/* The longest single blocking read(): VTIME counts tenths of a second. */
#define READ_STEP_MS 100

static const cw_dev_ops sp_ops;

static sp_dev *as_sp(const cw_dev *dev)
{
    return dev != NULL && dev->ops == &sp_ops ? (sp_dev *)(void *)(uintptr_t)dev : NULL;
}

const cw_serialport_info *cw_serialport_info_of(const cw_dev *dev)
{
    sp_dev *s = as_sp(dev);
    return s ? &s->info : NULL;
}

/* Copies src into dst[size], cut to fit: these fields are for display and matching, and a
 * longer string (a port path used as the serial) is cut rather than refused. */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strnlen(src, size - 1) : 0;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* errno values that mean the device itself is gone or hung up. */
static int is_gone(int e)
{
    return e == EIO || e == ENXIO || e == ENODEV || e == EPIPE || e == EBADF;
}

static int gone(sp_dev *s, const char *what, int e, cw_err *err)
{
    return cw_err_set(err, CW_E_NO_DEVICE, "%s: the port went away (%s during %s)", s->info.path,
                      e ? strerror(e) : "hang-up", what);
}

/* A failed libserialport call: map its error to a cw_err. */
static int sp_failed(sp_dev *s, enum sp_return rc, const char *what, cw_err *err)
{
    if (rc == SP_ERR_MEM)
        return cw_err_set(err, CW_E_NO_MEMORY, "%s: out of memory", s->info.path);
    if (rc == SP_ERR_SUPP)
        return cw_err_set(err, CW_E_UNSUPPORTED, "%s: %s is not supported by this port",
                          s->info.path, what);
    if (rc == SP_ERR_ARG)
        return cw_err_set(err, CW_E_INVALID, "%s: %s: invalid argument", s->info.path, what);
    int e = sp_last_error_code();
    if (is_gone(e))
        return gone(s, what, e, err);
    char *m = sp_last_error_message();
    cw_err_set(err, CW_E_IO, "%s: %s failed (%s)", s->info.path, what, m ? m : "unknown error");
    sp_free_error_message(m);
    return CW_E_IO;
}

static uint64_t ms_since(uint64_t t0)
{
    return (cw_monotonic_ns() - t0) / 1000000u;
}

/* poll() one event on the port for at most timeout_ms, restarting after signals. Returns the
 * revents, 0 on timeout, -1 with errno on failure. */
static int wait_for(sp_dev *s, short events, unsigned timeout_ms)
{
    uint64_t t0 = cw_monotonic_ns();
    for (;;) {
        uint64_t spent = ms_since(t0);
        int left = spent >= timeout_ms ? 0 : (int)(timeout_ms - spent);
        struct pollfd p = {s->fd, events, 0};
        int r = poll(&p, 1, left);
        if (r > 0)
            return p.revents;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int sp_read(cw_dev *dev, uint8_t *buf, size_t len, unsigned timeout_ms, size_t *actual,
                   cw_err *err)
{
    sp_dev *s = as_sp(dev);
    if (s->vtime && timeout_ms >= READ_STEP_MS) {
        int flags = fcntl(s->fd, F_GETFL);
        uint64_t t0 = cw_monotonic_ns();
        while (flags >= 0 && ms_since(t0) + READ_STEP_MS <= timeout_ms) {
            fcntl(s->fd, F_SETFL, flags & ~O_NONBLOCK);
            ssize_t n = read(s->fd, buf, len);
            int e = errno;
            fcntl(s->fd, F_SETFL, flags);
            if (n > 0) {
                *actual = (size_t)n;
                return CW_OK;
            }
            if (n < 0 && e != EAGAIN && e != EINTR) {
                if (is_gone(e))
                    return gone(s, "a read", e, err);
                return cw_err_set(err, CW_E_IO, "%s: read failed (%s)", s->info.path, strerror(e));
            }
            /* nothing within the step, or a hung-up line, which reads as nothing too */
            int ev = wait_for(s, POLLIN, 0);
            if (ev < 0 || (ev & (POLLHUP | POLLERR | POLLNVAL)))
                break;
        }
        uint64_t spent = ms_since(t0);
        timeout_ms = spent >= timeout_ms ? 0 : timeout_ms - (unsigned)spent;
    }
    int ev = wait_for(s, POLLIN, timeout_ms);
    if (ev < 0)
        return cw_err_set(err, CW_E_IO, "%s: poll failed (%s)", s->info.path, strerror(errno));
    if (ev == 0)
        return CW_OK; /* quiet: the caller decides whether that is a timeout */
    if (ev & POLLIN) {
        ssize_t n = read(s->fd, buf, len);
        if (n > 0) {
            *actual = (size_t)n;
            return CW_OK;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return CW_OK;
        /* readable but nothing to read: end of file, i.e. a hung-up line */
        return gone(s, "a read", n < 0 ? errno : 0, err);
    }
    return gone(s, "a read", 0, err); /* POLLHUP, POLLERR, POLLNVAL */
}

static int sp_write(cw_dev *dev, const uint8_t *buf, size_t len, unsigned timeout_ms,
                    size_t *actual, cw_err *err)
{
    sp_dev *s = as_sp(dev);
    uint64_t t0 = cw_monotonic_ns();
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(s->fd, buf + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            *actual = done;
            if (is_gone(errno))
                return gone(s, "a write", errno, err);
            return cw_err_set(err, CW_E_IO, "%s: write failed (%s)", s->info.path, strerror(errno));
        }
        uint64_t spent = ms_since(t0);
        int ev = spent >= timeout_ms ? 0 : wait_for(s, POLLOUT, (unsigned)(timeout_ms - spent));
        if (ev < 0) {
            *actual = done;
            return cw_err_set(err, CW_E_IO, "%s: poll failed (%s)", s->info.path, strerror(errno));
        }
        if (ev == 0) {
            *actual = done;
            return cw_err_set(err, CW_E_TIMEOUT,
                              "%s: only %zu of %zu bytes could be sent within %u ms", s->info.path,
                              done, len, timeout_ms);
        }
        if (!(ev & POLLOUT)) {
            *actual = done;
            return gone(s, "a write", 0, err);
        }
    }
    *actual = done;
    return CW_OK;
}

static int sp_queued(cw_dev *dev, size_t *rx, size_t *tx, cw_err *err)
{
    sp_dev *s = as_sp(dev);
    enum sp_return in = sp_input_waiting(s->port);
    if (in < 0)
        return sp_failed(s, in, "asking for the received bytes", err);
    enum sp_return out = sp_output_waiting(s->port);
    if (out < 0)
        return sp_failed(s, out, "asking for the unsent bytes", err);
    *rx = (size_t)in;
    *tx = (size_t)out;
    return CW_OK;
}

static int sp_flush_bufs(cw_dev *dev, int input, int output, cw_err *err)
{
    sp_dev *s = as_sp(dev);
    if (!input && !output)
        return CW_OK;
    enum sp_buffer which = input && output ? SP_BUF_BOTH : input ? SP_BUF_INPUT : SP_BUF_OUTPUT;
    enum sp_return rc = sp_flush(s->port, which);
    return rc == SP_OK ? CW_OK : sp_failed(s, rc, "flushing", err);
}

static int sp_set_line(cw_dev *dev, cw_line line, int on, cw_err *err)
{
    sp_dev *s = as_sp(dev);
    enum sp_return rc;
    const char *what;
    switch (line) {
    case CW_LINE_DTR:
        rc = sp_set_dtr(s->port, on ? SP_DTR_ON : SP_DTR_OFF);
        what = "setting DTR";
        break;
    case CW_LINE_RTS:
        rc = sp_set_rts(s->port, on ? SP_RTS_ON : SP_RTS_OFF);
        what = "setting RTS";
        break;
    case CW_LINE_BREAK:
        rc = on ? sp_start_break(s->port) : sp_end_break(s->port);
        what = on ? "starting a break" : "ending a break";
        break;
    default:
        return cw_err_set(err, CW_E_INVALID, "%s: unknown line %d", s->info.path, (int)line);
    }
    return rc == SP_OK ? CW_OK : sp_failed(s, rc, what, err);
}

static int sp_get_lines(cw_dev *dev, unsigned *mask, cw_err *err)
{
    sp_dev *s = as_sp(dev);
    enum sp_signal sig;
    enum sp_return rc = sp_get_signals(s->port, &sig);
    if (rc != SP_OK)
        return sp_failed(s, rc, "reading the modem lines", err);
    unsigned m = 0;
    m |= (sig & SP_SIG_CTS) ? CW_IN_CTS : 0u;
    m |= (sig & SP_SIG_DSR) ? CW_IN_DSR : 0u;
    m |= (sig & SP_SIG_DCD) ? CW_IN_DCD : 0u;
    m |= (sig & SP_SIG_RI) ? CW_IN_RI : 0u;
    *mask = m;
    return CW_OK;
}

static int sp_line_config(cw_dev *dev, const cw_line_cfg *cfg, cw_line_cfg *applied, cw_err *err)
{
    sp_dev *s = as_sp(dev);
    static const enum sp_parity parities[] = {SP_PARITY_NONE, SP_PARITY_ODD, SP_PARITY_EVEN,
                                              SP_PARITY_MARK, SP_PARITY_SPACE};
    if (cfg->baud < 1 || cfg->baud > 0x7fffffffu || cfg->bits < 5 || cfg->bits > 8 ||
        (unsigned)cfg->parity > CW_PARITY_SPACE || (cfg->stop_bits != 1 && cfg->stop_bits != 2))
        return cw_err_set(err, CW_E_INVALID, "%s: line settings out of range", s->info.path);
    struct sp_port_config *c = NULL;
    enum sp_return rc = sp_new_config(&c);
    if (rc != SP_OK)
        return sp_failed(s, rc, "line settings", err);
    /* One sp_set_config, so the settings change in one tcsetattr(). DTR and RTS stay unset
     * (-1 in a new config): libserialport then leaves them alone, and a reset line wired to
     * one of them does not move. No flow control of any kind. */
    if ((rc = sp_set_config_baudrate(c, (int)cfg->baud)) == SP_OK &&
        (rc = sp_set_config_bits(c, cfg->bits)) == SP_OK &&
        (rc = sp_set_config_parity(c, parities[cfg->parity])) == SP_OK &&
        (rc = sp_set_config_stopbits(c, cfg->stop_bits)) == SP_OK &&
        (rc = sp_set_config_cts(c, SP_CTS_IGNORE)) == SP_OK &&
        (rc = sp_set_config_dsr(c, SP_DSR_IGNORE)) == SP_OK &&
        (rc = sp_set_config_xon_xoff(c, SP_XONXOFF_DISABLED)) == SP_OK)
        rc = sp_set_config(s->port, c);
    if (rc != SP_OK) {
        sp_free_config(c);
        return sp_failed(s, rc, "applying the line settings", err);
    }
    /* Reads wait in blocking steps (sp_read): VMIN 0, VTIME one step. */
    struct termios t;
    s->vtime = 0;
    if (tcgetattr(s->fd, &t) == 0) {
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = READ_STEP_MS / 100;
        s->vtime = tcsetattr(s->fd, TCSANOW, &t) == 0;
    }
    /* What the port reports now: the settings really applied. */
    rc = sp_get_config(s->port, c);
    if (rc != SP_OK) {
        sp_free_config(c);
        return sp_failed(s, rc, "reading the line settings back", err);
    }
    int baud = 0, bits = 0, stop = 0;
    enum sp_parity par = SP_PARITY_INVALID;
    sp_get_config_baudrate(c, &baud);
    sp_get_config_bits(c, &bits);
    sp_get_config_parity(c, &par);
    sp_get_config_stopbits(c, &stop);
    sp_free_config(c);
    applied->baud = baud > 0 ? (uint32_t)baud : 0;
    applied->bits = bits > 0 && bits <= 8 ? (uint8_t)bits : 0;
    applied->stop_bits = stop > 0 && stop <= 2 ? (uint8_t)stop : 0;
    applied->parity = CW_PARITY_NONE;
    for (unsigned i = 0; i < sizeof parities / sizeof parities[0]; i++)
        if (parities[i] == par)
            applied->parity = (cw_parity)i;
    return CW_OK;
}

static void sp_close_dev(cw_dev *dev)
{
    sp_dev *s = as_sp(dev);
    if (s->port != NULL) {
        sp_close(s->port); /* also drops the flock */
        sp_free_port(s->port);
    }
    free(s);
}

static const cw_dev_ops sp_ops = {
    .name = "serialport",
    .close = sp_close_dev,
    .line_config = sp_line_config,
    .stream_read = sp_read,
    .stream_write = sp_write,
    .stream_queued = sp_queued,
    .stream_flush = sp_flush_bufs,
    .set_line = sp_set_line,
    .get_lines = sp_get_lines,
};

/* Why PATH cannot be opened, before libserialport is asked: it does not exist, or it is not a
 * character device. */
static int check_node(const char *path, int *is_pty, cw_err *err)
{
    struct stat st;
    *is_pty = 0;
    if (stat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR || e == ENXIO || e == ENODEV)
            return cw_err_set(err, CW_E_NO_DEVICE, "%s: no such port (%s)", path, strerror(e));
        if (e == EACCES || e == EPERM)
            return cw_err_set(err, CW_E_ACCESS, "%s: permission denied (%s)", path, strerror(e));
        return cw_err_set(err, CW_E_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISCHR(st.st_mode))
        return cw_err_set(err, CW_E_INVALID, "%s: not a serial port (not a character device)",
                          path);
    unsigned maj = major(st.st_rdev);
    *is_pty = maj >= PTY_MAJOR_FIRST && maj <= PTY_MAJOR_LAST;
    return CW_OK;
}

static int open_failed(const char *path, cw_err *err)
{
    int e = sp_last_error_code();
    char *m = sp_last_error_message();
    const char *detail = m ? m : strerror(e);
    int rc;
    if (e == EACCES || e == EPERM)
        rc = cw_err_set(err, CW_E_ACCESS, "%s: permission denied (%s)", path, detail);
    else if (e == EBUSY)
        rc = cw_err_set(err, CW_E_BUSY, "%s: in use by another program (%s)", path, detail);
    else if (e == ENOENT || e == ENODEV || e == ENXIO)
        rc = cw_err_set(err, CW_E_NO_DEVICE, "%s: no such port (%s)", path, detail);
    else
        rc = cw_err_set(err, CW_E_IO, "%s: cannot open (%s)", path, detail);
    sp_free_error_message(m);
    return rc;
}

int cw_serialport_open(cw_dev **out, const char *path, cw_err *err)
{
    *out = NULL;
    int is_pty = 0;
    int rc = check_node(path, &is_pty, err);
    if (rc != CW_OK)
        return rc;
    sp_dev *s = calloc(1, sizeof *s);
    if (s == NULL)
        return cw_err_set(err, CW_E_NO_MEMORY, "%s: out of memory", path);
    s->dev.ops = &sp_ops;
    s->fd = -1;
    copy_str(s->info.path, sizeof s->info.path, path);
    /* libserialport finds a port's details under /sys/class/tty/<basename>: follow a link such
     * as /dev/serial/by-id/usb-FTDI_... to the node it names. */
    char resolved[PATH_MAX];
    const char *node = path;
    struct stat lst;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && realpath(path, resolved) != NULL)
        node = resolved;
    enum sp_return sr = sp_get_port_by_name(node, &s->port);
    if (sr != SP_OK) {
        free(s);
        if (sr == SP_ERR_MEM)
            return cw_err_set(err, CW_E_NO_MEMORY, "%s: out of memory", path);
        if (is_pty) /* e.g. the pty of `cwlua sim serve`: point to the simulator's adapter */
            return cw_err_set(err, CW_E_UNSUPPORTED,
                              "%s: a pseudo-terminal, which libserialport cannot drive (it has no "
                              "/sys/class/tty entry); to try a serial adapter without one, run "
                              "the command under 'cwlua sim adapter PART -- ...'",
                              path);
        return cw_err_set(err, CW_E_UNSUPPORTED,
                          "%s: libserialport does not know it as a serial port", path);
    }
    if (sp_open(s->port, SP_MODE_READ_WRITE) != SP_OK) {
        rc = is_pty ? cw_err_set(err, CW_E_UNSUPPORTED,
                                 "%s: a pseudo-terminal, which libserialport cannot drive; to try "
                                 "a serial adapter without one, run the command under 'cwlua sim "
                                 "adapter PART -- ...'",
                                 path)
                    : open_failed(path, err);
        sp_free_port(s->port);
        free(s);
        return rc;
    }
    sp_get_port_handle(s->port, &s->fd);
    /* One user at a time: an advisory lock (pyserial's exclusive=True and other cwlua
     * processes take it too), and TIOCEXCL, which makes the kernel refuse further opens by
     * unprivileged programs. */
    if (flock(s->fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        sp_close(s->port);
        sp_free_port(s->port);
        free(s);
        return cw_err_set(err, CW_E_BUSY,
                          "%s: in use by another program (it holds the port's "
                          "lock)",
                          path);
    }
    (void)ioctl(s->fd, TIOCEXCL);
    int fl = fcntl(s->fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);

    cw_serialport_info *i = &s->info;
    copy_str(i->description, sizeof i->description, sp_get_port_description(s->port));
    if (sp_get_port_transport(s->port) == SP_TRANSPORT_USB) {
        int vid = 0, pid = 0;
        if (sp_get_port_usb_vid_pid(s->port, &vid, &pid) == SP_OK) {
            i->usb = 1;
            i->vid = (uint16_t)vid;
            i->pid = (uint16_t)pid;
        }
        copy_str(i->manufacturer, sizeof i->manufacturer, sp_get_port_usb_manufacturer(s->port));
        copy_str(i->product, sizeof i->product, sp_get_port_usb_product(s->port));
        copy_str(i->usb_serial, sizeof i->usb_serial, sp_get_port_usb_serial(s->port));
    }
    cw_dev_info *d = &s->dev.info;
    copy_str(d->backend, sizeof d->backend, "serialport");
    copy_str(d->kind, sizeof d->kind, "serial");
    copy_str(d->serial, sizeof d->serial, i->usb_serial[0] ? i->usb_serial : path);
    copy_str(d->product, sizeof d->product, i->product[0] ? i->product : i->description);
    d->vid = i->vid;
    d->pid = i->pid;
    *out = &s->dev;
    return CW_OK;
}

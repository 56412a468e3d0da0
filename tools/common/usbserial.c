/* SPDX-License-Identifier: MIT */
/* A simulated USB-serial adapter on a umockdev testbed (usbserial.h; test-harnesses.md §2.2 A). */
#include "usbserial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int usbserial_init(usbserial *u, int start_modem)
{
    g_mutex_init(&u->lock);
    if (pipe(u->wake) != 0)
        return -1;
    fcntl(u->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(u->wake[1], F_SETFL, O_NONBLOCK);
    u->t0 = mono_ns();
    u->modem = start_modem;
    u->master = u->keep = -1;
    return 0;
}

uint64_t usbserial_now_ns(const usbserial *u)
{
    return mono_ns() - u->t0;
}

/* ---- the lines ------------------------------------------------------------------------------ */

int usbserial_wire_parse(const char *name, usbserial_wire *w)
{
    static const struct {
        const char *name;
        usbserial_wire w;
    } t[] = {{"high", WIRE_HIGH}, {"low", WIRE_LOW},   {"dtr", WIRE_DTR}, {"rts", WIRE_RTS},
             {"!dtr", WIRE_NDTR}, {"!rts", WIRE_NRTS}, {"brk", WIRE_BRK}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0) {
            *w = t[i].w;
            return 0;
        }
    return -1;
}

int usbserial_level(usbserial_wire w, int modem, int brk)
{
    switch (w) {
    case WIRE_HIGH:
        return 1;
    case WIRE_LOW:
        return 0;
    case WIRE_DTR: /* USB-TTL adapters drive DTR#/RTS# active low: asserted = low */
        return !(modem & TIOCM_DTR);
    case WIRE_RTS:
        return !(modem & TIOCM_RTS);
    case WIRE_NDTR:
        return (modem & TIOCM_DTR) != 0;
    case WIRE_NRTS:
        return (modem & TIOCM_RTS) != 0;
    case WIRE_BRK:
        return !brk;
    }
    return 1;
}

/* On umockdev's thread: remember the change with its time, wake the main loop. */
static void lines_changed_locked(usbserial *u)
{
    if (u->ch_len < USBSERIAL_CHANGES) {
        usbserial_lines *c = &u->changes[(u->ch_head + u->ch_len) % USBSERIAL_CHANGES];
        c->t_ns = usbserial_now_ns(u);
        c->modem = u->modem;
        c->brk = u->brk;
        u->ch_len++;
    }
    char b = 1;
    ssize_t w = write(u->wake[1], &b, 1);
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
    usbserial *u = user;
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
        g_mutex_lock(&u->lock);
        v = u->modem | TIOCM_CTS | TIOCM_DSR | TIOCM_CAR;
        g_mutex_unlock(&u->lock);
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
        g_mutex_lock(&u->lock);
        if (req == TIOCMBIS)
            u->modem |= v;
        else if (req == TIOCMBIC)
            u->modem &= ~v;
        else
            u->modem = v;
        lines_changed_locked(u);
        g_mutex_unlock(&u->lock);
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    case TIOCSBRK:
    case TIOCCBRK:
        g_mutex_lock(&u->lock);
        u->brk = req == TIOCSBRK;
        lines_changed_locked(u);
        g_mutex_unlock(&u->lock);
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

int usbserial_next_change(usbserial *u, usbserial_lines *c)
{
    g_mutex_lock(&u->lock);
    int have = u->ch_len > 0;
    if (have) {
        *c = u->changes[u->ch_head];
        u->ch_head = (u->ch_head + 1) % USBSERIAL_CHANGES;
        u->ch_len--;
    }
    g_mutex_unlock(&u->lock);
    return have;
}

void usbserial_drain_wake(usbserial *u)
{
    char b[64];
    while (read(u->wake[0], b, sizeof b) > 0) {
    }
}

/* ---- the testbed ---------------------------------------------------------------------------- */

int usbserial_testbed(usbserial *u, const usbserial_usb *usb, speed_t keep_speed, char *err,
                      size_t errlen)
{
    int acm = strncmp(usb->port, "ttyACM", 6) == 0;
    const char *usbdev = "/devices/pci0000:00/0000:00:14.0/usb1/1-1";
    const char *major = acm ? "166" : "188";
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
             usbdev, usb->vid, usb->pid, usb->manufacturer, usb->product, usb->serial, usbdev,
             acm ? "cdc_acm" : "ftdi_sio", acm ? "02" : "ff", usbdev, usb->port, usb->port,
             usb->port, major, major);
    snprintf(u->devnode, sizeof u->devnode, "/dev/%s", usb->port);
    snprintf(u->syspath, sizeof u->syspath, "/sys%s/1-1:1.0/tty/%s", usbdev, usb->port);
    u->tb = umockdev_testbed_new();
    GError *gerr = NULL;
    if (!umockdev_testbed_add_from_string(u->tb, desc, &gerr)) {
        snprintf(err, errlen, "cannot declare the adapter to umockdev (%s)", gerr->message);
        return -1;
    }
    UMockdevIoctlBase *h = umockdev_ioctl_base_new();
    g_signal_connect(h, "handle-ioctl", G_CALLBACK(on_ioctl), u);
    if (!umockdev_testbed_attach_ioctl(u->tb, u->devnode, h, &gerr)) {
        snprintf(err, errlen, "cannot answer the adapter's ioctls (%s)", gerr->message);
        return -1;
    }
    g_object_unref(h);
    u->master = umockdev_testbed_get_dev_fd(u->tb, u->devnode);
    if (u->master < 0) {
        snprintf(err, errlen, "umockdev gave no pty behind %s", u->devnode);
        return -1;
    }
    unsigned n = 0;
    if (ioctl(u->master, TIOCGPTN, &n) != 0) {
        snprintf(err, errlen, "cannot find the pty behind %s (TIOCGPTN: %s)", u->devnode,
                 strerror(errno));
        return -1;
    }
    snprintf(u->slave, sizeof u->slave, "/dev/pts/%u", n);
    /* Keep the slave open: otherwise the master reads EIO whenever the client has the port
     * closed (test-harnesses.md §2.1). */
    u->keep = open(u->slave, O_RDWR | O_NOCTTY);
    if (u->keep < 0) {
        snprintf(err, errlen, "cannot open %s (%s)", u->slave, strerror(errno));
        return -1;
    }
    struct termios t;
    if (tcgetattr(u->keep, &t) == 0) {
        cfmakeraw(&t);
        cfsetispeed(&t, keep_speed);
        cfsetospeed(&t, keep_speed);
        tcsetattr(u->keep, TCSANOW, &t);
    }
    int fl = fcntl(u->master, F_GETFL);
    fcntl(u->master, F_SETFL, fl | O_NONBLOCK);
    return 0;
}

void usbserial_free(usbserial *u, int detach)
{
    if (u->keep >= 0)
        close(u->keep);
    if (u->tb != NULL) {
        if (detach)
            umockdev_testbed_detach_ioctl(u->tb, u->devnode, NULL);
        g_object_unref(u->tb); /* removes the testbed's folder */
    }
    close(u->wake[0]);
    close(u->wake[1]);
    g_mutex_clear(&u->lock);
}

/* ---- the wire ------------------------------------------------------------------------------- */

#define DEFAULT_BAUD 115200.0

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

cwsim_uart_format usbserial_client_format(const usbserial *u, int *bare)
{
    cwsim_uart_format f = {DEFAULT_BAUD, 8, CWSIM_PARITY_EVEN, 2};
    struct termios t;
    *bare = 1;
    if (tcgetattr(u->master, &t) != 0)
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

ssize_t usbserial_read_client(usbserial *u, uint8_t *buf, size_t size)
{
    size_t room = USBSERIAL_INQ - u->in_len;
    if (room == 0)
        return 0;
    return read(u->master, buf, room < size ? room : size);
}

void usbserial_send(usbserial *u, const uint8_t *buf, size_t n)
{
    int bare;
    cwsim_uart_format f = usbserial_client_format(u, &bare);
    if (bare) /* taken as the 8E1 the bootloader expects */
        f.parity = CWSIM_PARITY_EVEN;
    uint64_t frame = cwsim_uart_frame_ns(&f), now = usbserial_now_ns(u);
    for (size_t i = 0; i < n; i++) {
        uint64_t start = u->wire_free_ns > now ? u->wire_free_ns : now;
        usbserial_byte *p = &u->inq[(u->in_head + u->in_len) % USBSERIAL_INQ];
        p->byte = buf[i];
        p->fmt = f;
        p->end_ns = start + frame;
        u->wire_free_ns = p->end_ns;
        u->in_len++;
    }
}

int usbserial_deliver(usbserial *u, cwsim_stm32 *chip, uint64_t now)
{
    if (u->in_len == 0 || u->inq[u->in_head].end_ns > now)
        return 0;
    const usbserial_byte *p = &u->inq[u->in_head];
    cwsim_stm32_rx_byte(chip, p->byte, &p->fmt, p->end_ns);
    u->in_head = (u->in_head + 1) % USBSERIAL_INQ;
    u->in_len--;
    return 1;
}

void usbserial_chip_tx(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns)
{
    usbserial *u = ctx;
    (void)end_ns;
    int bare;
    cwsim_uart_format f = usbserial_client_format(u, &bare);
    uint8_t byte = frame->byte;
    if (bare) { /* nothing known about the client's parity: read it in the chip's own format */
        double baud = f.baud;
        f = frame->fmt;
        f.baud = baud;
    }
    (void)cwsim_uart_frame_decode(frame, &f, &byte);
    if (u->out_len < USBSERIAL_OUTQ)
        u->outq[u->out_len++] = byte;
}

void usbserial_flush(usbserial *u)
{
    while (u->out_len > 0) {
        ssize_t w = write(u->master, u->outq, u->out_len);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EAGAIN)
                return;
            u->out_len = 0; /* nobody to read it */
            return;
        }
        memmove(u->outq, u->outq + w, u->out_len - (size_t)w);
        u->out_len -= (size_t)w;
    }
}

int usbserial_poll_ms(const usbserial *u, const cwsim_stm32 *chip, int max_ms)
{
    int timeout = max_ms;
    uint64_t next = cwsim_stm32_next_event_ns(chip), now = usbserial_now_ns(u);
    if (u->in_len > 0 && u->inq[u->in_head].end_ns < next)
        next = u->inq[u->in_head].end_ns;
    if (next != UINT64_MAX) {
        uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
        if (ms < (uint64_t)timeout)
            timeout = (int)ms;
    }
    return timeout;
}

/* SPDX-License-Identifier: MIT */
/* simbus.c - the mock USB bus of cwlua-sim-attach: one umockdev usbdevfs node per simulated
 * board, its ioctls answered from libcwsim.
 *
 * Documents: test-harnesses.md §1 (umockdev + libusb with our own usbdevfs handler: which
 * ioctls libusb 1.0.26 and pyusb send, control transfers as SUBMITURB with the setup packet in
 * front, URB reaping, DISCARDURB on timeout, gotchas 1-8); cw-usb-protocol.md §1.1-§1.3 (USB
 * identity, speeds, Linux auto-claim); the behaviour of Linux's usbfs (drivers/usb/core/devio.c:
 * proc_do_submiturb, check_ctrlrecip, checkintf, proc_reapurbnodelay), cited as "usbfs".
 *
 * What a client sees is what the kernel would give it: URBs are answered when submitted and
 * become reapable after the configured control-transfer latency and whatever time the board
 * spent inside the request (an XMEGA or AVR engine command, see board_control); a board that
 * does not answer (CWSIM_TIMEOUT, like a device that NAKs) leaves the URB in flight until the
 * client discards it, so libusb reports its own LIBUSB_ERROR_TIMEOUT; the synchronous
 * USBDEVFS_CONTROL and USBDEVFS_BULK ioctls fail with ETIMEDOUT once their timeout has passed.
 * A stall is EPIPE and an unplugged board ENODEV (the device also leaves the mock sysfs, with a
 * "remove" uevent). */
#include "simbus.h"

#include <errno.h>
#include <glib.h>
#include <linux/usbdevice_fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <umockdev.h>

#define SA_MAX_BOARDS 32  /* ports 1-1 .. 1-32 on bus 1 */
#define SA_MAX_DEVNUM 127 /* USB addresses; each (re-)enumeration takes the next one */
#define SA_MAX_IFACES 32  /* usbfs tracks claims in a 32-bit mask */
#define SA_MAX_EPS    32
#define SA_DESC_MAX   4096

/* How often the ticker brings the virtual clock up to real time when no request comes. Each
 * request does so itself first, so a client never sees a stale board; the tick only lets the
 * board's own activity (UART shifting, targets' timers) run while the client is quiet, and
 * looks again at a bulk IN on the CDC data endpoint, which the USART fills over time. */
#define SA_TICK_NS (2 * 1000 * 1000)

/* The timeout passed with each transfer. usbfs URBs carry no timeout (libusb keeps its own), and
 * under attach the waiting happens in real time, in the client; 0 makes the simulator answer
 * CWSIM_TIMEOUT at once instead of moving its clock through a wait (cwsim.h). */
#define SA_SIM_TIMEOUT_MS 0u

/* How long sa_bus_free() waits for the clients' connections to close after COMMAND ended. */
#define SA_DRAIN_NS (500 * 1000 * 1000)

#define SA_NS_PER_MS 1000000

typedef struct sa_ep {
    uint8_t addr;  /* bEndpointAddress */
    uint8_t type;  /* bmAttributes & 3: 0 control, 1 iso, 2 bulk, 3 interrupt */
    uint8_t ifnum; /* the interface it belongs to */
    uint16_t maxp; /* wMaxPacketSize & 0x7FF */
} sa_ep;

typedef struct sa_conn sa_conn;
typedef struct sa_dev sa_dev;

struct sa_dev {
    sa_bus *bus;
    cwsim_board *board;
    unsigned port;    /* 1-PORT in sysfs: the same for every enumeration of a board */
    unsigned devnum;  /* USB address: a new one each time the board enumerates */
    char devnode[32]; /* /dev/bus/usb/001/002 */
    char syspath[96]; /* /sys/devices/.../usb1/1-1 */
    char name[8];     /* 001/002, for the trace */
    uint8_t config_value;
    bool if_present[SA_MAX_IFACES];
    uint8_t if_alts[SA_MAX_IFACES]; /* number of alternate settings */
    sa_ep eps[SA_MAX_EPS];
    size_t n_eps;
    sa_conn *claimed[SA_MAX_IFACES]; /* which open file holds each interface */
    bool gone;            /* unplugged or re-enumerating: every further request fails with ENODEV */
    bool replaced;        /* the board came back as a newer sa_dev */
    int64_t ctrl_free_ns; /* real time at which the last control request's answer is complete */
    UMockdevIoctlBase *handler;
};

typedef struct sa_urb {
    UMockdevIoctlData *urbd; /* the client's struct usbdevfs_urb, resolved (owned) */
    UMockdevIoctlData *buf;  /* its buffer, resolved (owned); NULL when empty */
    uint8_t type;
    uint8_t ep;
    bool wants_data; /* a bulk/interrupt IN still waiting for the board to have data */
    int64_t ready_ns;
} sa_urb;

/* An ioctl whose answer comes later. There is at most one per connection, since the client
 * waits for it. */
typedef enum sa_wait_kind {
    SA_WAIT_NONE,
    SA_WAIT_REPLY,  /* answer (res, errno) at the deadline */
    SA_WAIT_REAP,   /* USBDEVFS_REAPURB: answer with the next reapable URB */
    SA_WAIT_BULK_IN /* USBDEVFS_BULK IN: answer when the board has data, ETIMEDOUT at deadline */
} sa_wait_kind;

/* One open file of a device node (one umockdev client connection). */
struct sa_conn {
    sa_dev *dev;
    GObject *client; /* the UMockdevIoctlClient; not owned, weakly referenced */
    GQueue inflight; /* sa_urb*: submitted, not finished, in submission order */
    GQueue done;     /* sa_urb*: finished, in completion order */
    sa_wait_kind wait;
    UMockdevIoctlClient *wait_client; /* owned while wait != SA_WAIT_NONE */
    int64_t wait_deadline_ns;         /* INT64_MAX: none */
    long wait_res;
    int wait_errno;
    UMockdevIoctlData *wait_data; /* REAP: the resolved void* slot; BULK_IN: the buffer */
    uint8_t wait_ep;
    int wait_len;
};

struct sa_bus {
    cwsim *sim;
    UMockdevTestbed *tb;
    char *root_dir;
    GMutex lock;
    GCond cond;
    GThread *ticker;
    bool started, stop;
    int64_t real0_ns; /* the real time that corresponds to sim0_ns */
    uint64_t sim0_ns;
    int64_t latency_ns;
    FILE *trace;
    sa_dev *devs[SA_MAX_DEVNUM]; /* every enumeration of every board, oldest first */
    size_t n_devs;
    size_t n_boards;
    unsigned next_devnum;
    GList *conns; /* sa_conn* */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(err, (gulong)errlen, fmt, ap);
    va_end(ap);
}

static unsigned le16(const uint8_t *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* ---------------------------------------------------------------------------------------------
 * Virtual time
 * ------------------------------------------------------------------------------------------- */

/* Brings the simulator's clock up to real time. A board that itself moved its clock ahead (a
 * wait inside a transfer) is left alone until real time catches up. Lock held. */
static void clock_sync(sa_bus *bus)
{
    if (!bus->started)
        return;
    int64_t elapsed = mono_ns() - bus->real0_ns;
    uint64_t target = bus->sim0_ns + (uint64_t)(elapsed > 0 ? elapsed : 0);
    uint64_t now = cwsim_now_ns(bus->sim);
    if (target > now)
        cwsim_advance_ns(bus->sim, target - now);
}

/* The real time at which the simulator's clock reads sim_ns. Lock held. */
static int64_t real_of(const sa_bus *bus, uint64_t sim_ns)
{
    if (!bus->started || sim_ns <= bus->sim0_ns)
        return bus->real0_ns;
    return bus->real0_ns + (int64_t)(sim_ns - bus->sim0_ns);
}

/* ---------------------------------------------------------------------------------------------
 * Trace
 * ------------------------------------------------------------------------------------------- */

static void trace_bytes(FILE *f, const uint8_t *p, int n)
{
    int shown = n < 16 ? n : 16;
    for (int i = 0; i < shown; i++)
        fprintf(f, " %02x", p[i]);
    if (n > shown)
        fprintf(f, " ...");
}

static void trace_result(FILE *f, int rc)
{
    switch (rc) {
    case CWSIM_STALL:
        fprintf(f, "stall");
        break;
    case CWSIM_TIMEOUT:
        fprintf(f, "no answer");
        break;
    case CWSIM_NODEV:
        fprintf(f, "unplugged");
        break;
    default:
        fprintf(f, "%d", rc);
    }
}

static void trace_control(sa_dev *d, const uint8_t *setup, const uint8_t *data, int rc)
{
    FILE *f = d->bus->trace;
    if (f == NULL)
        return;
    unsigned wlength = le16(setup + 6);
    fprintf(f, "[sim %s] ctrl %02x %02x %04x %04x %u", d->name, setup[0], setup[1], le16(setup + 2),
            le16(setup + 4), wlength);
    if (!(setup[0] & 0x80) && wlength > 0) {
        fprintf(f, " >");
        trace_bytes(f, data, (int)wlength);
    }
    fprintf(f, " -> ");
    trace_result(f, rc);
    if ((setup[0] & 0x80) && rc > 0) {
        fprintf(f, " <");
        trace_bytes(f, data, rc);
    }
    fprintf(f, "\n");
    fflush(f);
}

static void trace_bulk(sa_dev *d, uint8_t ep, const uint8_t *data, int len, int rc)
{
    FILE *f = d->bus->trace;
    if (f == NULL || (rc == CWSIM_TIMEOUT && (ep & 0x80)))
        return; /* a bulk IN that finds no data is retried often; only its answer is shown */
    fprintf(f, "[sim %s] bulk %02x %d", d->name, ep, len);
    if (!(ep & 0x80) && len > 0) {
        fprintf(f, " >");
        trace_bytes(f, data, len);
    }
    fprintf(f, " -> ");
    trace_result(f, rc);
    if ((ep & 0x80) && rc > 0) {
        fprintf(f, " <");
        trace_bytes(f, data, rc);
    }
    fprintf(f, "\n");
    fflush(f);
}

static void trace_ioctl(sa_dev *d, const char *what, long res, int err)
{
    FILE *f = d->bus->trace;
    if (f == NULL)
        return;
    if (res < 0)
        fprintf(f, "[sim %s] %s -> %s\n", d->name, what, g_strerror(err));
    else
        fprintf(f, "[sim %s] %s -> %ld\n", d->name, what, res);
    fflush(f);
}

/* ---------------------------------------------------------------------------------------------
 * Descriptors
 * ------------------------------------------------------------------------------------------- */

/* Reads what usbfs needs from the device + configuration descriptors: the interfaces, their
 * alternate settings and endpoints. */
static int parse_descriptors(sa_dev *d, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    if (n < 18 || p[0] != 18 || p[1] != 1) {
        set_err(err, errlen, "board gave no device descriptor");
        return -1;
    }
    size_t off = 18;
    int ifnum = -1;
    bool have_config = false;
    while (off + 2 <= n) {
        uint8_t len = p[off], type = p[off + 1];
        if (len < 2 || off + len > n) {
            set_err(err, errlen, "malformed descriptor at byte %zu", off);
            return -1;
        }
        if (type == 2 && len >= 9 && !have_config) { /* CONFIGURATION: the first one is active */
            d->config_value = p[off + 5];
            have_config = true;
        } else if (type == 4 && len >= 9) { /* INTERFACE */
            ifnum = p[off + 2];
            if (ifnum >= SA_MAX_IFACES) {
                set_err(err, errlen, "interface number %d out of range", ifnum);
                return -1;
            }
            d->if_present[ifnum] = true;
            d->if_alts[ifnum]++;
        } else if (type == 5 && len >= 7 && ifnum >= 0) { /* ENDPOINT */
            bool known = false;
            for (size_t i = 0; i < d->n_eps; i++)
                known = known || d->eps[i].addr == p[off + 2];
            if (!known && d->n_eps < SA_MAX_EPS) {
                sa_ep *e = &d->eps[d->n_eps++];
                e->addr = p[off + 2];
                e->type = p[off + 3] & 3;
                e->ifnum = (uint8_t)ifnum;
                e->maxp = (uint16_t)(le16(p + off + 4) & 0x7FF);
            }
        }
        off += len;
    }
    if (!have_config) {
        set_err(err, errlen, "board gave no configuration descriptor");
        return -1;
    }
    return 0;
}

static const sa_ep *find_ep(const sa_dev *d, unsigned addr)
{
    for (size_t i = 0; i < d->n_eps; i++)
        if (d->eps[i].addr == addr)
            return &d->eps[i];
    return NULL;
}

/* Appends "A: key=value\n" with umockdev's escaping (test-harnesses.md §1.4 gotcha 1: the value
 * ends in a literal \n, which umockdev unescapes with g_strcompress). */
static void add_attr(GString *s, const char *key, const char *value)
{
    g_string_append_printf(s, "A: %s=", key);
    for (const char *c = value; *c; c++) {
        if (*c == '\\')
            g_string_append(s, "\\\\");
        else
            g_string_append_c(s, *c);
    }
    g_string_append(s, "\\n\n");
}

static void add_hex(GString *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(s, "%02X", p[i]);
}

/* The umockdev description of a board: sysfs attributes and udev properties as Linux shows them
 * for a USB device (bus 1, one port per board), the device node holding the descriptors. */
static GString *describe(sa_dev *d, const uint8_t *desc, size_t n)
{
    cwsim_board *b = d->board;
    const char *manufacturer = cwsim_board_manufacturer(b), *product = cwsim_board_product(b);
    const char *serial = cwsim_board_serial(b);
    char v[64];
    unsigned vid = cwsim_board_vid(b), pid = cwsim_board_pid(b), bcd = cwsim_board_bcd_device(b);
    unsigned bcdusb = le16(desc + 2);
    unsigned speed = cwsim_board_speed_mbps(b);

    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "P: %s\nN: %s=", d->syspath + 4, d->devnode + 5);
    add_hex(s, desc, n);
    g_string_append_printf(s,
                           "\nE: DEVNAME=%s\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
                           "E: PRODUCT=%x/%x/%x\nE: TYPE=%u/%u/%u\nE: BUSNUM=001\n"
                           "E: DEVNUM=%03u\nE: MAJOR=189\nE: MINOR=%u\nE: SUBSYSTEM=usb\n"
                           "E: ID_VENDOR_ID=%04x\nE: ID_MODEL_ID=%04x\nE: ID_REVISION=%04x\n",
                           d->devnode, vid, pid, bcd, desc[4], desc[5], desc[6], d->devnum,
                           d->devnum - 1, vid, pid, bcd);
    if (serial != NULL && serial[0])
        g_string_append_printf(s, "E: ID_SERIAL_SHORT=%s\n", serial);
    add_attr(s, "busnum", "1");
    g_snprintf(v, sizeof v, "%u", d->devnum);
    add_attr(s, "devnum", v);
    g_snprintf(v, sizeof v, "%u", d->port);
    add_attr(s, "devpath", v);
    g_snprintf(v, sizeof v, "%u", speed);
    add_attr(s, "speed", v);
    g_snprintf(v, sizeof v, "%2x.%02x", bcdusb >> 8, bcdusb & 0xFF);
    add_attr(s, "version", v);
    g_snprintf(v, sizeof v, "%04x", vid);
    add_attr(s, "idVendor", v);
    g_snprintf(v, sizeof v, "%04x", pid);
    add_attr(s, "idProduct", v);
    g_snprintf(v, sizeof v, "%04x", bcd);
    add_attr(s, "bcdDevice", v);
    g_snprintf(v, sizeof v, "%02x", desc[4]);
    add_attr(s, "bDeviceClass", v);
    g_snprintf(v, sizeof v, "%02x", desc[5]);
    add_attr(s, "bDeviceSubClass", v);
    g_snprintf(v, sizeof v, "%02x", desc[6]);
    add_attr(s, "bDeviceProtocol", v);
    g_snprintf(v, sizeof v, "%u", desc[7]);
    add_attr(s, "bMaxPacketSize0", v);
    g_snprintf(v, sizeof v, "%u", desc[17]);
    add_attr(s, "bNumConfigurations", v);
    g_snprintf(v, sizeof v, "%u", d->config_value);
    add_attr(s, "bConfigurationValue", v);
    unsigned n_if = 0;
    for (unsigned i = 0; i < SA_MAX_IFACES; i++)
        n_if += d->if_present[i];
    g_snprintf(v, sizeof v, "%2u", n_if);
    add_attr(s, "bNumInterfaces", v);
    add_attr(s, "maxchild", "0");
    if (manufacturer != NULL && manufacturer[0])
        add_attr(s, "manufacturer", manufacturer);
    if (product != NULL && product[0])
        add_attr(s, "product", product);
    if (serial != NULL && serial[0])
        add_attr(s, "serial", serial);
    g_string_append(s, "H: descriptors=");
    add_hex(s, desc, n);
    g_string_append(s, "\n\n");
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * URBs and deferred answers
 * ------------------------------------------------------------------------------------------- */

static struct usbdevfs_urb *urb_of(const sa_urb *u)
{
    return (struct usbdevfs_urb *)(void *)u->urbd->data;
}

static void urb_free(sa_urb *u)
{
    if (u->buf != NULL)
        g_object_unref(u->buf);
    g_object_unref(u->urbd);
    g_free(u);
}

static void wait_end(sa_conn *c, long res, int err)
{
    umockdev_ioctl_client_complete(c->wait_client, res, err);
    g_object_unref(c->wait_client);
    if (c->wait_data != NULL)
        g_object_unref(c->wait_data);
    c->wait = SA_WAIT_NONE;
    c->wait_client = NULL;
    c->wait_data = NULL;
}

static void wait_begin(sa_conn *c, UMockdevIoctlClient *client, sa_wait_kind kind,
                       int64_t deadline_ns)
{
    c->wait = kind;
    c->wait_client = g_object_ref(client);
    c->wait_deadline_ns = deadline_ns;
    g_cond_signal(&c->dev->bus->cond);
}

/* Answers (res, errno) at ready_ns (real time). */
static void reply_at(sa_conn *c, UMockdevIoctlClient *client, long res, int err, int64_t ready_ns)
{
    if (ready_ns <= mono_ns()) {
        umockdev_ioctl_client_complete(client, res, err);
        return;
    }
    c->wait_res = res;
    c->wait_errno = err;
    wait_begin(c, client, SA_WAIT_REPLY, ready_ns);
}

static sa_urb *pop_ready(sa_conn *c, int64_t now)
{
    for (GList *l = c->done.head; l != NULL; l = l->next) {
        sa_urb *u = l->data;
        if (u->ready_ns <= now) {
            g_queue_delete_link(&c->done, l);
            return u;
        }
    }
    return NULL;
}

/* Hands u to a reap ioctl whose void* slot is ptr, and answers it. */
static void reap_answer(UMockdevIoctlClient *client, UMockdevIoctlData *ptr, sa_urb *u)
{
    umockdev_ioctl_data_set_ptr(ptr, 0, u->urbd);
    umockdev_ioctl_client_complete(client, 0, 0);
    urb_free(u); /* ptr now holds the urb's data until the answer has been written */
}

/* Services the connection's deferred ioctl, if its answer is due. Lock held. */
static void conn_service(sa_conn *c, int64_t now)
{
    sa_dev *d = c->dev;
    switch (c->wait) {
    case SA_WAIT_NONE:
        break;
    case SA_WAIT_REPLY:
        if (now >= c->wait_deadline_ns)
            wait_end(c, c->wait_res, c->wait_errno);
        break;
    case SA_WAIT_REAP: {
        sa_urb *u = pop_ready(c, now);
        if (u != NULL) {
            reap_answer(c->wait_client, c->wait_data, u);
            g_object_unref(c->wait_client);
            g_object_unref(c->wait_data);
            c->wait = SA_WAIT_NONE;
            c->wait_client = NULL;
            c->wait_data = NULL;
        } else if (d->gone && g_queue_is_empty(&c->done) && g_queue_is_empty(&c->inflight)) {
            wait_end(c, -1, ENODEV);
        }
        break;
    }
    case SA_WAIT_BULK_IN:
        if (d->gone)
            wait_end(c, -1, ENODEV);
        else if (now >= c->wait_deadline_ns)
            wait_end(c, -1, ETIMEDOUT);
        break;
    }
}

static void dev_check_present(sa_dev *d);
static int ioctl_errno(int rc);

/* Tries the board for a synchronous USBDEVFS_BULK IN that waits for data. Lock held. */
static void conn_poll_bulk_in(sa_conn *c)
{
    sa_dev *d = c->dev;
    uint8_t none = 0;
    uint8_t *data = c->wait_data != NULL ? c->wait_data->data : &none;
    int rc = cwsim_board_bulk(d->board, c->wait_ep, data, c->wait_len, SA_SIM_TIMEOUT_MS);
    trace_bulk(d, c->wait_ep, data, c->wait_len, rc);
    if (rc >= 0)
        wait_end(c, rc, 0);
    else if (rc != CWSIM_TIMEOUT)
        wait_end(c, -1, ioctl_errno(rc));
    dev_check_present(d);
}

static void urb_finish(sa_conn *c, sa_urb *u, int status, int actual, int64_t ready_ns)
{
    struct usbdevfs_urb *urb = urb_of(u);
    urb->status = status;
    urb->actual_length = actual;
    u->wants_data = false;
    u->ready_ns = ready_ns;
    g_queue_push_tail(&c->done, u);
    conn_service(c, mono_ns());
    g_cond_signal(&c->dev->bus->cond);
}

/* The URB status (a negative errno) for a simulator error, as the host controller reports it. */
static int urb_status(int rc)
{
    switch (rc) {
    case CWSIM_STALL:
        return -EPIPE;
    case CWSIM_NODEV:
        return -ENODEV;
    case CWSIM_OVERFLOW:
        return -EOVERFLOW;
    case CWSIM_INVALID:
        return -EINVAL;
    default:
        return -EPROTO;
    }
}

/* The errno of a synchronous ioctl for a simulator error. */
static int ioctl_errno(int rc)
{
    return rc == CWSIM_TIMEOUT ? ETIMEDOUT : -urb_status(rc);
}

static void dev_unplug(sa_dev *d);

/* After every transfer: a board that left the bus (unplug-after, 0x22/0x10 RESET, 0x22/0x03
 * ENTER_BOOTLOADER) is unplugged from the mock bus too. Lock held. */
static void dev_check_present(sa_dev *d)
{
    if (!d->gone && !cwsim_board_present(d->board))
        dev_unplug(d);
}

/* Runs a bulk or interrupt URB against the board. Returns 1 when it finished, 0 when it is
 * still in flight (an IN the board has no data for yet, or a board that never answers), or
 * -1 when the board refused it as invalid (the URB is then the caller's). Lock held. */
static int urb_run_bulk(sa_conn *c, sa_urb *u)
{
    sa_dev *d = c->dev;
    struct usbdevfs_urb *urb = urb_of(u);
    uint8_t none = 0;
    uint8_t *data = u->buf != NULL ? u->buf->data : &none;
    int len = u->buf != NULL ? urb->buffer_length : 0;
    int rc = cwsim_board_bulk(d->board, u->ep, data, len, SA_SIM_TIMEOUT_MS);
    trace_bulk(d, u->ep, data, len, rc);
    if (rc >= 0 && !(u->ep & 0x80) && (urb->flags & USBDEVFS_URB_ZERO_PACKET) && len > 0) {
        /* the host ends an OUT of whole packets with a zero-length packet */
        const sa_ep *e = find_ep(d, u->ep);
        if (e != NULL && e->maxp > 0 && len % e->maxp == 0) {
            int zrc = cwsim_board_bulk(d->board, u->ep, &none, 0, SA_SIM_TIMEOUT_MS);
            trace_bulk(d, u->ep, &none, 0, zrc);
        }
    }
    if (rc == CWSIM_TIMEOUT) {
        dev_check_present(d);
        return 0;
    }
    g_queue_remove(&c->inflight, u);
    if (rc == CWSIM_INVALID)
        return -1;
    /* A board that moved its clock ahead inside the transfer (an FPGA load, a wait) answers
     * when real time has caught up with it, as the real board answers when it is done. */
    int64_t now = mono_ns();
    int64_t done = real_of(d->bus, cwsim_now_ns(d->bus->sim));
    if (done > now)
        now = done;
    if (rc >= 0) {
        int status = 0;
        if (rc > len) { /* the board sent more than asked for */
            status = -EOVERFLOW;
            rc = len;
        } else if ((u->ep & 0x80) && rc < len && (urb->flags & USBDEVFS_URB_SHORT_NOT_OK)) {
            status = -EREMOTEIO;
        }
        urb_finish(c, u, status, rc, now);
    } else {
        urb_finish(c, u, urb_status(rc), 0, now);
    }
    dev_check_present(d);
    return 1;
}

/* Whether an IN on ep that found nothing may find data now. Every try is a transfer for the
 * board (it counts, and faults act on it), so only when data may have come: after an OUT
 * request (0x10 sets up a bulk read of the vendor endpoint) and, with time alone, on the CDC
 * data endpoint, which the USART fills as bytes arrive. The vendor endpoint and the interrupt
 * (CDC notify) endpoint get nothing with time alone (cwsim.h). */
static bool in_may_have_data(const sa_dev *d, uint8_t ep, bool with_time)
{
    if (!with_time)
        return true;
    const sa_ep *e = find_ep(d, ep);
    return e != NULL && e->type == 2 && ep != cwsim_board_ep_bulk_in(d->board);
}

/* Gives the IN transfers that wait for data another chance, oldest first; one that still
 * finds nothing holds back the later ones on its endpoint. Lock held. */
static void dev_retry_in(sa_dev *d, bool with_time)
{
    uint8_t blocked[SA_MAX_EPS];
    size_t n_blocked = 0;
    GList *conns = g_list_copy(d->bus->conns);
    for (GList *cl = conns; cl != NULL && !d->gone; cl = cl->next) {
        sa_conn *c = cl->data;
        if (c->dev != d)
            continue;
        if (c->wait == SA_WAIT_BULK_IN && in_may_have_data(d, c->wait_ep, with_time))
            conn_poll_bulk_in(c);
        GList *l = c->inflight.head;
        while (l != NULL && !d->gone) {
            sa_urb *u = l->data;
            l = l->next;
            if (!u->wants_data || !in_may_have_data(d, u->ep, with_time))
                continue;
            bool skip = false;
            for (size_t i = 0; i < n_blocked; i++)
                skip = skip || blocked[i] == u->ep;
            if (skip)
                continue;
            int r = urb_run_bulk(c, u);
            if (r < 0) { /* cannot happen for a URB the board once took; end it anyway */
                urb_finish(c, u, -EPROTO, 0, mono_ns());
            } else if (r == 0 && n_blocked < SA_MAX_EPS) {
                blocked[n_blocked++] = u->ep;
            }
        }
    }
    g_list_free(conns);
}

/* The board is gone: URBs in flight end with ESHUTDOWN, as usbfs does on disconnect, and the
 * device leaves sysfs with a "remove" uevent (libusb's hotplug monitor sees it). Lock held. */
static void dev_unplug(sa_dev *d)
{
    if (d->gone)
        return;
    d->gone = true;
    int64_t now = mono_ns();
    for (GList *cl = d->bus->conns; cl != NULL; cl = cl->next) {
        sa_conn *c = cl->data;
        if (c->dev != d)
            continue;
        sa_urb *u;
        while ((u = g_queue_pop_head(&c->inflight)) != NULL)
            urb_finish(c, u, -ESHUTDOWN, 0, now);
        conn_service(c, now);
    }
    if (d->bus->trace != NULL) {
        fprintf(d->bus->trace, "[sim %s] left the bus\n", d->name);
        fflush(d->bus->trace);
    }
    umockdev_testbed_uevent(d->bus->tb, d->syspath, "remove");
    umockdev_testbed_remove_device(d->bus->tb, d->syspath);
}

/* ---------------------------------------------------------------------------------------------
 * usbfs rules
 * ------------------------------------------------------------------------------------------- */

/* usbfs checkintf/claimintf: using an interface claims it for this file if nobody has. */
static int check_intf(sa_conn *c, unsigned ifnum)
{
    sa_dev *d = c->dev;
    if (ifnum >= SA_MAX_IFACES)
        return EINVAL;
    if (!d->if_present[ifnum])
        return ENOENT;
    if (d->claimed[ifnum] == c)
        return 0;
    if (d->claimed[ifnum] != NULL)
        return EBUSY;
    d->claimed[ifnum] = c;
    return 0;
}

/* usbfs check_ctrlrecip: vendor requests pass; standard and class requests to an interface or
 * endpoint need that interface (and claim it). */
static int check_ctrlrecip(sa_conn *c, uint8_t type, unsigned windex)
{
    if ((type & 0x60) == 0x40)
        return 0;
    windex &= 0xFF;
    switch (type & 0x1F) {
    case 1: /* interface */
        return check_intf(c, windex);
    case 2: { /* endpoint */
        if ((windex & 0x7F) == 0)
            return 0;
        const sa_ep *e = find_ep(c->dev, windex);
        if (e == NULL)
            e = find_ep(c->dev, windex ^ 0x80);
        return e == NULL ? ENOENT : check_intf(c, e->ifnum);
    }
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------------------------------------
 * ioctls
 * ------------------------------------------------------------------------------------------- */

static void complete(sa_dev *d, UMockdevIoctlClient *client, const char *what, long res, int err)
{
    if (what != NULL)
        trace_ioctl(d, what, res, err);
    umockdev_ioctl_client_complete(client, res, err);
}

static UMockdevIoctlData *resolve(UMockdevIoctlData *parent, size_t offset, size_t len)
{
    return umockdev_ioctl_data_resolve(parent, offset, len, NULL);
}

static int run_urb(sa_conn *c, sa_urb *u);

static void on_submiturb(sa_conn *c, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    sa_dev *d = c->dev;
    if (d->gone) {
        complete(d, client, "SUBMITURB", -1, ENODEV);
        return;
    }
    UMockdevIoctlData *urbd = resolve(arg, 0, sizeof(struct usbdevfs_urb));
    if (urbd == NULL) {
        complete(d, client, "SUBMITURB", -1, EFAULT);
        return;
    }
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)(void *)urbd->data;
    int err = 0;
    const sa_ep *ep = NULL;
    if (urb->buffer_length < 0) {
        err = EINVAL;
    } else if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
        if ((urb->endpoint & 0x7F) != 0)
            err = find_ep(d, urb->endpoint) != NULL ? EINVAL : ENOENT;
        else if (urb->buffer_length < 8) /* usbfs: the setup packet comes first */
            err = EINVAL;
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK || urb->type == USBDEVFS_URB_TYPE_INTERRUPT) {
        ep = find_ep(d, urb->endpoint);
        err = ep == NULL ? ENOENT : check_intf(c, ep->ifnum);
        if (err == 0 && (ep->type == 0 || ep->type == 1)) /* control or isochronous endpoint */
            err = EINVAL;
        if (err == 0 && urb->type == USBDEVFS_URB_TYPE_INTERRUPT && ep->type != 3)
            err = EINVAL; /* usbfs lets a bulk URB use an interrupt endpoint, not the reverse */
    } else {
        err = EINVAL; /* isochronous transfers are not simulated */
    }
    UMockdevIoctlData *buf = NULL;
    if (err == 0 && urb->buffer_length > 0) {
        buf = resolve(urbd, offsetof(struct usbdevfs_urb, buffer), (size_t)urb->buffer_length);
        if (buf == NULL)
            err = EFAULT;
    }
    uint8_t *setup = buf != NULL ? buf->data : NULL;
    if (err == 0 && urb->type == USBDEVFS_URB_TYPE_CONTROL) {
        if (urb->buffer_length < (int)le16(setup + 6) + 8)
            err = EINVAL;
        else
            err = check_ctrlrecip(c, setup[0], le16(setup + 4));
    }
    if (err != 0) {
        if (buf != NULL)
            g_object_unref(buf);
        g_object_unref(urbd);
        complete(d, client, "SUBMITURB", -1, err);
        return;
    }

    sa_urb *u = g_new0(sa_urb, 1);
    u->urbd = urbd;
    u->buf = buf;
    u->type = urb->type;
    u->ep = urb->type == USBDEVFS_URB_TYPE_CONTROL ? 0 : urb->endpoint;
    g_queue_push_tail(&c->inflight, u);
    err = run_urb(c, u);
    if (err != 0) /* the board refused it: usbfs would not have taken it */
        urb_free(u);
    complete(d, client, err != 0 ? "SUBMITURB" : NULL, err != 0 ? -1 : 0, err);
}

/* Runs one control request on the board; *ready_ns gets the real time at which its answer is
 * complete. That is the time the board's clock moved during the request (the latency it
 * charges, and whatever the board did inside it) after the board has finished the request
 * before: its default pipe takes one request at a time. The board's own work is what matters:
 * an OUT to the XMEGA or AVR engine runs the whole command, PDI or ISP bytes and the chip's
 * erase and write times included, before the board looks at the next request
 * (target-protocols.md §1, "Execution model"). The in-process simulator charges that time to
 * the command, so the answer here waits for it too, in real time: a client timed under attach
 * sees what it would on the board. (The board's clock itself is shared by every board of the
 * bus and may run ahead of real time meanwhile; clock_sync leaves it so.) Lock held. */
static int board_control(sa_dev *d, const uint8_t setup[8], uint8_t *data, int64_t *ready_ns)
{
    int64_t start = mono_ns(); /* when it arrived: simulating it takes time of its own */
    uint64_t t0 = cwsim_now_ns(d->bus->sim);
    int rc = cwsim_board_control(d->board, setup[0], setup[1], (uint16_t)le16(setup + 2),
                                 (uint16_t)le16(setup + 4), data, (uint16_t)le16(setup + 6),
                                 SA_SIM_TIMEOUT_MS);
    if (rc == CWSIM_TIMEOUT)
        return rc; /* no answer: the request stays pending, the pipe is not held */
    if (d->ctrl_free_ns > start)
        start = d->ctrl_free_ns;
    *ready_ns = start + (int64_t)(cwsim_now_ns(d->bus->sim) - t0);
    d->ctrl_free_ns = *ready_ns;
    return rc;
}

/* Runs a freshly submitted URB against the board: 0, or EINVAL when the board refuses it (it
 * is then no longer in flight). Lock held. */
static int run_urb(sa_conn *c, sa_urb *u)
{
    sa_dev *d = c->dev;
    if (u->type != USBDEVFS_URB_TYPE_CONTROL) {
        u->wants_data = (u->ep & 0x80) != 0;
        int r = urb_run_bulk(c, u);
        if (r > 0 && !(u->ep & 0x80))
            dev_retry_in(d, false);
        return r < 0 ? EINVAL : 0;
    }
    uint8_t *setup = u->buf->data;
    uint16_t wlength = (uint16_t)le16(setup + 6);
    int64_t ready = 0;
    int rc = board_control(d, setup, setup + 8, &ready);
    trace_control(d, setup, setup + 8, rc);
    if (rc == CWSIM_TIMEOUT) {
        dev_check_present(d);
        return 0; /* stays in flight until the client discards it */
    }
    g_queue_remove(&c->inflight, u);
    if (rc == CWSIM_INVALID)
        return EINVAL;
    bool in = (setup[0] & 0x80) && wlength > 0;
    if (rc >= 0 && in && rc > wlength)
        urb_finish(c, u, -EOVERFLOW, wlength, ready); /* more than asked for (§2.1) */
    else if (rc >= 0)
        urb_finish(c, u, 0, in ? rc : wlength, ready);
    else
        urb_finish(c, u, urb_status(rc), 0, ready);
    dev_check_present(d);
    if (rc >= 0 && !in)
        dev_retry_in(d, false); /* an OUT request may have given a waiting bulk IN its data */
    return 0;
}

static void on_discardurb(sa_conn *c, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    gulong addr = *(gulong *)(void *)arg->data; /* the argument is the client's urb pointer */
    for (GList *l = c->inflight.head; l != NULL; l = l->next) {
        sa_urb *u = l->data;
        if (u->urbd->client_addr == addr) {
            g_queue_delete_link(&c->inflight, l);
            urb_finish(c, u, -ENOENT, 0, mono_ns()); /* usbfs: an unlinked URB ends -ENOENT */
            complete(c->dev, client, "DISCARDURB", 0, 0);
            return;
        }
    }
    complete(c->dev, client, "DISCARDURB", -1, EINVAL);
}

static void on_reapurb(sa_conn *c, UMockdevIoctlClient *client, UMockdevIoctlData *arg, bool block)
{
    UMockdevIoctlData *ptr = resolve(arg, 0, sizeof(void *));
    if (ptr == NULL) {
        complete(c->dev, client, NULL, -1, EFAULT);
        return;
    }
    int64_t now = mono_ns();
    sa_urb *u = pop_ready(c, now);
    if (u != NULL) {
        reap_answer(client, ptr, u);
        g_object_unref(ptr);
    } else if (c->dev->gone && g_queue_is_empty(&c->done) && g_queue_is_empty(&c->inflight)) {
        g_object_unref(ptr); /* usbfs: nothing left to reap after a disconnect */
        complete(c->dev, client, NULL, -1, ENODEV);
    } else if (!block) {
        g_object_unref(ptr);
        complete(c->dev, client, NULL, -1, EAGAIN);
    } else {
        c->wait_data = ptr;
        wait_begin(c, client, SA_WAIT_REAP, INT64_MAX);
    }
}

static void on_control(sa_conn *c, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    sa_dev *d = c->dev;
    UMockdevIoctlData *ctd = resolve(arg, 0, sizeof(struct usbdevfs_ctrltransfer));
    if (ctd == NULL) {
        complete(d, client, "CONTROL", -1, EFAULT);
        return;
    }
    struct usbdevfs_ctrltransfer *ct = (struct usbdevfs_ctrltransfer *)(void *)ctd->data;
    UMockdevIoctlData *data = NULL;
    if (ct->wLength > 0)
        data = resolve(ctd, offsetof(struct usbdevfs_ctrltransfer, data), ct->wLength);
    int err = d->gone ? ENODEV
              : (ct->wLength > 0 && data == NULL)
                  ? EFAULT
                  : check_ctrlrecip(c, ct->bRequestType, ct->wIndex);
    if (err != 0) {
        complete(d, client, "CONTROL", -1, err);
    } else {
        uint8_t setup[8] = {ct->bRequestType,     ct->bRequest,
                            (uint8_t)ct->wValue,  (uint8_t)(ct->wValue >> 8),
                            (uint8_t)ct->wIndex,  (uint8_t)(ct->wIndex >> 8),
                            (uint8_t)ct->wLength, (uint8_t)(ct->wLength >> 8)};
        uint8_t none = 0;
        uint8_t *p = data != NULL ? data->data : &none;
        int64_t ready = 0;
        int rc = board_control(d, setup, p, &ready);
        trace_control(d, setup, p, rc);
        bool in = (ct->bRequestType & 0x80) && ct->wLength > 0;
        if (rc >= 0) {
            reply_at(c, client, in ? rc : ct->wLength, 0, ready);
        } else if (rc == CWSIM_TIMEOUT) {
            c->wait_res = -1;
            c->wait_errno = ETIMEDOUT;
            wait_begin(c, client, SA_WAIT_REPLY,
                       ct->timeout ? mono_ns() + (int64_t)ct->timeout * SA_NS_PER_MS : INT64_MAX);
        } else {
            reply_at(c, client, -1, ioctl_errno(rc), ready);
        }
        dev_check_present(d);
        if (rc >= 0 && !in)
            dev_retry_in(d, false);
    }
    if (data != NULL)
        g_object_unref(data);
    g_object_unref(ctd);
}

static void on_bulk(sa_conn *c, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    sa_dev *d = c->dev;
    UMockdevIoctlData *btd = resolve(arg, 0, sizeof(struct usbdevfs_bulktransfer));
    if (btd == NULL) {
        complete(d, client, "BULK", -1, EFAULT);
        return;
    }
    struct usbdevfs_bulktransfer *bt = (struct usbdevfs_bulktransfer *)(void *)btd->data;
    const sa_ep *ep = find_ep(d, bt->ep);
    int err = d->gone ? ENODEV : ep == NULL ? ENOENT : check_intf(c, ep->ifnum);
    if (err == 0 && (ep->type == 0 || ep->type == 1))
        err = EINVAL;
    if (err == 0 && bt->len > INT32_MAX)
        err = EINVAL;
    UMockdevIoctlData *data = NULL;
    if (err == 0 && bt->len > 0) {
        data = resolve(btd, offsetof(struct usbdevfs_bulktransfer, data), bt->len);
        if (data == NULL)
            err = EFAULT;
    }
    if (err != 0) {
        complete(d, client, "BULK", -1, err);
    } else if (bt->ep & 0x80) {
        c->wait_data = data != NULL ? g_object_ref(data) : NULL;
        c->wait_ep = (uint8_t)bt->ep;
        c->wait_len = (int)bt->len;
        wait_begin(c, client, SA_WAIT_BULK_IN,
                   bt->timeout ? mono_ns() + (int64_t)bt->timeout * SA_NS_PER_MS : INT64_MAX);
        conn_poll_bulk_in(c);
    } else {
        uint8_t none = 0;
        uint8_t *p = data != NULL ? data->data : &none;
        int rc = cwsim_board_bulk(d->board, (uint8_t)bt->ep, p, (int)bt->len, SA_SIM_TIMEOUT_MS);
        trace_bulk(d, (uint8_t)bt->ep, p, (int)bt->len, rc);
        if (rc >= 0) {
            complete(d, client, NULL, rc, 0);
        } else if (rc == CWSIM_TIMEOUT) {
            c->wait_res = -1;
            c->wait_errno = ETIMEDOUT;
            wait_begin(c, client, SA_WAIT_REPLY,
                       bt->timeout ? mono_ns() + (int64_t)bt->timeout * SA_NS_PER_MS : INT64_MAX);
        } else {
            complete(d, client, NULL, -1, ioctl_errno(rc));
        }
        dev_check_present(d);
        if (rc >= 0)
            dev_retry_in(d, false);
    }
    if (data != NULL)
        g_object_unref(data);
    g_object_unref(btd);
}

/* Reads the unsigned int an ioctl argument points to; false when unreadable. */
static bool arg_uint(UMockdevIoctlData *arg, unsigned *out)
{
    UMockdevIoctlData *p = resolve(arg, 0, sizeof(unsigned));
    if (p == NULL)
        return false;
    memcpy(out, p->data, sizeof *out);
    g_object_unref(p);
    return true;
}

/* A standard request the kernel itself sends to the device for an ioctl (SET_CONFIGURATION,
 * SET_INTERFACE, CLEAR_FEATURE): 0 or an errno. */
static int kernel_request(sa_dev *d, uint8_t type, uint8_t req, unsigned value, unsigned index)
{
    uint8_t setup[8] = {
        type, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index, (uint8_t)(index >> 8),
        0,    0};
    uint8_t none = 0;
    int rc = cwsim_board_control(d->board, type, req, (uint16_t)value, (uint16_t)index, &none, 0,
                                 SA_SIM_TIMEOUT_MS);
    trace_control(d, setup, &none, rc);
    dev_check_present(d);
    return rc >= 0 ? 0 : ioctl_errno(rc);
}

static void on_ioctl_locked(sa_conn *c, UMockdevIoctlClient *client)
{
    sa_dev *d = c->dev;
    gulong req = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    unsigned v = 0;

    switch (req) {
    case USBDEVFS_SUBMITURB:
        on_submiturb(c, client, arg);
        return;
    case USBDEVFS_REAPURBNDELAY:
    case USBDEVFS_REAPURB:
        on_reapurb(c, client, arg, req == USBDEVFS_REAPURB);
        return;
    case USBDEVFS_DISCARDURB:
        on_discardurb(c, client, arg);
        return;
    case USBDEVFS_CONTROL:
        on_control(c, client, arg);
        return;
    case USBDEVFS_BULK:
        on_bulk(c, client, arg);
        return;
    default:
        break;
    }

    if (d->gone) {
        complete(d, client, "ioctl", -1, ENODEV);
        return;
    }
    switch (req) {
    case USBDEVFS_GET_CAPABILITIES: {
        /* what this handler implements: one URB per transfer of any size, ZLP flag, reaping
         * after a disconnect (test-harnesses.md §1.5 reports the same set) */
        guint32 caps = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                       USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
        UMockdevIoctlData *p = resolve(arg, 0, sizeof caps);
        if (p == NULL) {
            complete(d, client, "GET_CAPABILITIES", -1, EFAULT);
            break;
        }
        memcpy(p->data, &caps, sizeof caps);
        g_object_unref(p);
        complete(d, client, NULL, 0, 0);
        break;
    }
    case USBDEVFS_CLAIMINTERFACE: {
        int err = arg_uint(arg, &v) ? check_intf(c, v) : EFAULT;
        complete(d, client, "CLAIMINTERFACE", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_RELEASEINTERFACE: {
        int err = !arg_uint(arg, &v)                         ? EFAULT
                  : v >= SA_MAX_IFACES || d->claimed[v] != c ? EINVAL
                                                             : 0;
        if (err == 0)
            d->claimed[v] = NULL;
        complete(d, client, "RELEASEINTERFACE", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_DISCONNECT_CLAIM: { /* no kernel driver is bound here: just claim */
        int err = arg_uint(arg, &v) ? check_intf(c, v) : EFAULT;
        complete(d, client, "DISCONNECT_CLAIM", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_SETINTERFACE: {
        UMockdevIoctlData *p = resolve(arg, 0, sizeof(struct usbdevfs_setinterface));
        int err = EFAULT;
        if (p != NULL) {
            struct usbdevfs_setinterface si;
            memcpy(&si, p->data, sizeof si);
            g_object_unref(p);
            err = check_intf(c, si.interface);
            if (err == 0 && si.altsetting >= d->if_alts[si.interface])
                err = EINVAL;
            if (err == 0)
                err = kernel_request(d, 0x01, 11, si.altsetting, si.interface);
            /* usb_set_interface: a stall is fine when there is only one alternate setting */
            if (err == EPIPE && d->if_alts[si.interface] == 1)
                err = 0;
        }
        complete(d, client, "SETINTERFACE", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_SETCONFIGURATION: {
        int err = EFAULT;
        if (arg_uint(arg, &v)) {
            int cfg = (int)v;
            err = (cfg != d->config_value && cfg != 0 && cfg != -1) ? EINVAL : 0;
            for (unsigned i = 0; err == 0 && i < SA_MAX_IFACES; i++)
                if (d->claimed[i] != NULL && d->claimed[i] != c)
                    err = EBUSY; /* usbfs refuses while another file holds an interface */
            if (err == 0)
                err = kernel_request(d, 0x00, 9, cfg < 0 ? 0 : v, 0);
        }
        complete(d, client, "SETCONFIGURATION", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_CLEAR_HALT: {
        int err = EFAULT;
        if (arg_uint(arg, &v)) {
            const sa_ep *e = find_ep(d, v);
            err = e == NULL ? ENOENT : check_intf(c, e->ifnum);
            if (err == 0)
                err = kernel_request(d, 0x02, 1, 0, v); /* CLEAR_FEATURE(ENDPOINT_HALT) */
        }
        complete(d, client, "CLEAR_HALT", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_RESETEP: {
        int err = EFAULT;
        if (arg_uint(arg, &v)) {
            const sa_ep *e = find_ep(d, v);
            err = e == NULL ? ENOENT : check_intf(c, e->ifnum);
        }
        complete(d, client, "RESETEP", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_GETDRIVER: /* usbfs: no driver bound to the interface */
        complete(d, client, "GETDRIVER", -1, ENODATA);
        break;
    case USBDEVFS_IOCTL: {
        UMockdevIoctlData *p = resolve(arg, 0, sizeof(struct usbdevfs_ioctl));
        int err = EFAULT;
        if (p != NULL) {
            struct usbdevfs_ioctl io;
            memcpy(&io, p->data, sizeof io);
            g_object_unref(p);
            /* detaching a kernel driver: there is none; attaching one: nothing to bind */
            err = io.ioctl_code == (int)USBDEVFS_DISCONNECT ? ENODATA
                  : io.ioctl_code == (int)USBDEVFS_CONNECT  ? 0
                                                            : ENOTTY;
        }
        complete(d, client, "IOCTL", err ? -1 : 0, err);
        break;
    }
    case USBDEVFS_CONNECTINFO: {
        UMockdevIoctlData *p = resolve(arg, 0, sizeof(struct usbdevfs_connectinfo));
        if (p == NULL) {
            complete(d, client, "CONNECTINFO", -1, EFAULT);
            break;
        }
        struct usbdevfs_connectinfo ci = {.devnum = d->devnum, .slow = 0};
        memcpy(p->data, &ci, sizeof ci);
        g_object_unref(p);
        complete(d, client, NULL, 0, 0);
        break;
    }
    case USBDEVFS_GET_SPEED: /* enum usb_device_speed: 2 full, 3 high */
        complete(d, client, NULL, cwsim_board_speed_mbps(d->board) >= 480 ? 3 : 2, 0);
        break;
    case USBDEVFS_RESET:
    case USBDEVFS_DROP_PRIVILEGES:
    case USBDEVFS_FORBID_SUSPEND:
    case USBDEVFS_ALLOW_SUSPEND:
    case USBDEVFS_WAIT_FOR_RESUME:
        complete(d, client, NULL, 0, 0);
        break;
    default: {
        char what[32];
        g_snprintf(what, sizeof what, "ioctl 0x%lx", req);
        complete(d, client, what, -1, ENOTTY);
    }
    }
}

static void on_client_gone(gpointer user, GObject *client);

static sa_conn *conn_new(sa_dev *d, UMockdevIoctlClient *client)
{
    sa_conn *c = g_new0(sa_conn, 1);
    c->dev = d;
    c->client = G_OBJECT(client);
    g_queue_init(&c->inflight);
    g_queue_init(&c->done);
    d->bus->conns = g_list_prepend(d->bus->conns, c);
    g_object_set_data(c->client, "cwlua-sa-conn", c);
    /* umockdev drops the client object once the file is closed (its worker reads EOF); its
     * "connected" property is not notified, so a weak reference tells us */
    g_object_weak_ref(c->client, on_client_gone, d->bus);
    return c;
}

/* The file was closed: usbfs kills its URBs and releases its interfaces. Lock held. */
static void conn_free(sa_conn *c)
{
    sa_dev *d = c->dev;
    sa_urb *u;
    while ((u = g_queue_pop_head(&c->inflight)) != NULL)
        urb_free(u);
    while ((u = g_queue_pop_head(&c->done)) != NULL)
        urb_free(u);
    if (c->wait != SA_WAIT_NONE) { /* the client went away while it waited */
        g_object_unref(c->wait_client);
        if (c->wait_data != NULL)
            g_object_unref(c->wait_data);
    }
    for (unsigned i = 0; i < SA_MAX_IFACES; i++)
        if (d->claimed[i] == c)
            d->claimed[i] = NULL;
    d->bus->conns = g_list_remove(d->bus->conns, c);
    g_free(c);
}

/* Runs in the thread that drops the client's last reference, during its finalization. The
 * connection is looked up, not passed: the bus outlives every client it has seen. */
static void on_client_gone(gpointer user, GObject *client)
{
    sa_bus *bus = user;
    g_mutex_lock(&bus->lock);
    for (GList *l = bus->conns; l != NULL; l = l->next) {
        sa_conn *c = l->data;
        if (c->client == client) {
            conn_free(c);
            break;
        }
    }
    g_cond_signal(&bus->cond);
    g_mutex_unlock(&bus->lock);
}

static void on_client_connected(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                                gpointer user)
{
    sa_dev *d = user;
    (void)handler;
    g_mutex_lock(&d->bus->lock);
    if (!d->bus->stop && g_object_get_data(G_OBJECT(client), "cwlua-sa-conn") == NULL)
        conn_new(d, client);
    g_mutex_unlock(&d->bus->lock);
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user)
{
    sa_dev *d = user;
    (void)handler;
    g_mutex_lock(&d->bus->lock);
    if (d->bus->stop) { /* COMMAND has ended; the simulator may be gone already */
        complete(d, client, NULL, -1, ENODEV);
        g_mutex_unlock(&d->bus->lock);
        return TRUE;
    }
    sa_conn *c = g_object_get_data(G_OBJECT(client), "cwlua-sa-conn");
    if (c == NULL)
        c = conn_new(d, client);
    clock_sync(d->bus);
    on_ioctl_locked(c, client);
    g_mutex_unlock(&d->bus->lock);
    return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * Devices
 * ------------------------------------------------------------------------------------------- */

/* Puts a board on the mock bus at port 1-port with the next free address: its sysfs entry and
 * device node (an "add" uevent), and our handler on the node. Lock held once started. */
static sa_dev *dev_add(sa_bus *bus, cwsim_board *board, unsigned port, char *err, size_t errlen)
{
    if (bus->next_devnum > SA_MAX_DEVNUM) {
        set_err(err, errlen, "no USB address left on the mock bus");
        return NULL;
    }
    const uint8_t *desc = NULL;
    size_t n = cwsim_board_descriptors(board, &desc);
    if (desc == NULL || n > SA_DESC_MAX) {
        set_err(err, errlen, "board gave no usable descriptors");
        return NULL;
    }
    sa_dev *d = g_new0(sa_dev, 1);
    d->bus = bus;
    d->board = board;
    d->port = port;
    d->devnum = bus->next_devnum;
    g_snprintf(d->devnode, sizeof d->devnode, "/dev/bus/usb/001/%03u", d->devnum);
    g_snprintf(d->name, sizeof d->name, "001/%03u", d->devnum);
    g_snprintf(d->syspath, sizeof d->syspath, "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%u",
               port);
    if (parse_descriptors(d, desc, n, err, errlen) != 0) {
        g_free(d);
        return NULL;
    }
    /* The handler first: adding the device sends the "add" uevent, and a client that opens
     * the node then must find umockdev's ioctl socket there already. */
    GError *gerr = NULL;
    d->handler = umockdev_ioctl_base_new();
    g_signal_connect(d->handler, "handle-ioctl", G_CALLBACK(on_ioctl), d);
    g_signal_connect(d->handler, "client-connected", G_CALLBACK(on_client_connected), d);
    if (!umockdev_testbed_attach_ioctl(bus->tb, d->devnode, d->handler, &gerr)) {
        set_err(err, errlen, "cannot attach to %s (%s)", d->devnode, gerr->message);
        g_error_free(gerr);
        g_object_unref(d->handler);
        g_free(d);
        return NULL;
    }
    GString *text = describe(d, desc, n);
    gboolean added = umockdev_testbed_add_from_string(bus->tb, text->str, &gerr);
    g_string_free(text, TRUE);
    if (!added) {
        set_err(err, errlen, "umockdev rejected the device (%s)", gerr->message);
        g_error_free(gerr);
        umockdev_testbed_detach_ioctl(bus->tb, d->devnode, NULL);
        g_object_unref(d->handler);
        g_free(d);
        return NULL;
    }
    bus->next_devnum++;
    bus->devs[bus->n_devs++] = d;
    return d;
}

/* A board that left the bus is back (re-enumerated after 0x22/0x10 RESET): it appears again on
 * the same port under a new address, as on Linux; files opened before stay dead. Lock held. */
static void dev_replug(sa_dev *old)
{
    char err[128];
    old->replaced = true;
    sa_dev *d = dev_add(old->bus, old->board, old->port, err, sizeof err);
    FILE *f = old->bus->trace;
    if (f != NULL) {
        if (d != NULL)
            fprintf(f, "[sim %s] back on the bus as %s\n", old->name, d->name);
        else
            fprintf(f, "[sim %s] cannot come back (%s)\n", old->name, err);
        fflush(f);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Ticker
 * ------------------------------------------------------------------------------------------- */

static int64_t conn_next_deadline(const sa_conn *c)
{
    switch (c->wait) {
    case SA_WAIT_REPLY:
        return c->wait_deadline_ns;
    case SA_WAIT_REAP: {
        int64_t t = INT64_MAX;
        for (GList *l = c->done.head; l != NULL; l = l->next) {
            const sa_urb *u = l->data;
            t = u->ready_ns < t ? u->ready_ns : t;
        }
        return t;
    }
    default:
        return INT64_MAX;
    }
}

static gpointer ticker_main(gpointer user)
{
    sa_bus *bus = user;
    g_mutex_lock(&bus->lock);
    while (!bus->stop) {
        clock_sync(bus);
        int64_t now = mono_ns();
        for (size_t i = 0, n = bus->n_devs; i < n; i++) {
            sa_dev *d = bus->devs[i];
            if (!d->gone)
                dev_retry_in(d, true);
            else if (!d->replaced && cwsim_board_present(d->board))
                dev_replug(d);
        }
        int64_t next = now + SA_TICK_NS;
        for (GList *l = bus->conns; l != NULL; l = l->next) {
            sa_conn *c = l->data;
            conn_service(c, now);
            int64_t t = conn_next_deadline(c);
            next = t < next ? t : next;
        }
        int64_t wait_ns = next - mono_ns();
        if (wait_ns > 0)
            g_cond_wait_until(&bus->cond, &bus->lock, g_get_monotonic_time() + wait_ns / 1000 + 1);
    }
    g_mutex_unlock(&bus->lock);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Bus
 * ------------------------------------------------------------------------------------------- */

int sa_bus_new(sa_bus **out, cwsim *sim, const sa_bus_options *opts, char *err, size_t errlen)
{
    sa_bus *bus = g_new0(sa_bus, 1);
    bus->sim = sim;
    g_mutex_init(&bus->lock);
    g_cond_init(&bus->cond);
    bus->latency_ns = (int64_t)(opts->usb_latency_ms * SA_NS_PER_MS);
    /* the board's own clock charges the same latency per control transfer (contract.md §5) */
    cwsim_set_usb_latency_ns(sim, (uint64_t)bus->latency_ns);
    bus->trace = opts->trace;
    bus->next_devnum = 2; /* address 1 is the root hub */
    bus->tb = umockdev_testbed_new();
    if (bus->tb == NULL) {
        set_err(err, errlen, "cannot create the umockdev testbed");
        g_free(bus);
        return -1;
    }
    bus->root_dir = umockdev_testbed_get_root_dir(bus->tb);
    *out = bus;
    return 0;
}

int sa_bus_add_board(sa_bus *bus, cwsim_board *board, char *err, size_t errlen)
{
    if (bus->n_boards == SA_MAX_BOARDS) {
        set_err(err, errlen, "at most %d boards", SA_MAX_BOARDS);
        return -1;
    }
    if (dev_add(bus, board, (unsigned)bus->n_boards + 1, err, errlen) == NULL)
        return -1;
    bus->n_boards++;
    return 0;
}

const char *sa_bus_devnode(const sa_bus *bus, size_t n)
{
    return n < bus->n_boards ? bus->devs[n]->devnode : NULL;
}

const char *sa_bus_root_dir(const sa_bus *bus)
{
    return bus->root_dir;
}

int sa_bus_start(sa_bus *bus, char *err, size_t errlen)
{
    g_mutex_lock(&bus->lock);
    bus->real0_ns = mono_ns();
    bus->sim0_ns = cwsim_now_ns(bus->sim);
    bus->started = true;
    g_mutex_unlock(&bus->lock);
    GError *gerr = NULL;
    bus->ticker = g_thread_try_new("cwlua-sim-clock", ticker_main, bus, &gerr);
    if (bus->ticker == NULL) {
        set_err(err, errlen, "cannot start the clock thread (%s)", gerr->message);
        g_error_free(gerr);
        return -1;
    }
    return 0;
}

void sa_bus_free(sa_bus *bus)
{
    if (bus == NULL)
        return;
    g_mutex_lock(&bus->lock);
    bus->stop = true;
    g_cond_signal(&bus->cond);
    g_mutex_unlock(&bus->lock);
    if (bus->ticker != NULL)
        g_thread_join(bus->ticker);

    /* No new clients from here on; the files COMMAND had open close as umockdev's worker
     * reads their end. Give that a moment, so every connection is released cleanly. */
    for (size_t i = 0; i < bus->n_devs; i++)
        g_signal_handlers_disconnect_by_data(bus->devs[i]->handler, bus->devs[i]);
    int64_t until = mono_ns() + SA_DRAIN_NS;
    g_mutex_lock(&bus->lock);
    while (bus->conns != NULL && mono_ns() < until)
        g_cond_wait_until(&bus->cond, &bus->lock, g_get_monotonic_time() + 10000);
    bool drained = bus->conns == NULL;
    g_mutex_unlock(&bus->lock);

    for (size_t i = 0; i < bus->n_devs; i++)
        umockdev_testbed_detach_ioctl(bus->tb, bus->devs[i]->devnode, NULL);
    g_object_unref(bus->tb); /* removes the temporary sysfs/dev tree */
    g_free(bus->root_dir);
    bus->root_dir = NULL;

    /* A process COMMAND left behind still has a board open: its connection may still call
     * back into the bus, so the bus stays (the process ends soon anyway). */
    if (!drained)
        return;
    for (size_t i = 0; i < bus->n_devs; i++) {
        g_object_unref(bus->devs[i]->handler);
        g_free(bus->devs[i]);
    }
    g_cond_clear(&bus->cond);
    g_mutex_clear(&bus->lock);
    g_free(bus);
}

/* SPDX-License-Identifier: MIT */
/* libusb_client.c - a plain libusb-1.0 program run under cwlua-sim-attach: the usbfs behaviour
 * the Python scripts do not reach (claiming, asynchronous transfers, real-time timeouts and
 * latency, the synchronous USBDEVFS_CONTROL/USBDEVFS_BULK ioctls, hotplug when the board
 * re-enumerates or is unplugged).
 *
 *   cwlua-sim-attach cwlite -- libusb_client
 *   cwlua-sim-attach --sim-fault unplug-after=N cwlite -- libusb_client --unplug-after N
 *
 * Prints "libusb_client: N passed, N failed" last (tests/check.h). Section numbers refer to
 * cw-usb-protocol.md; usbfs behaviour is Linux's drivers/usb/core/devio.c. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <libusb.h>
#include <linux/usbdevice_fs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define VID      0x2B3E /* §1.1 */
#define PID_LITE 0xACE2
#define EP_IN    0x81 /* §1.2 */
#define CTRL_IN  0xC1 /* §0 conventions: vendor request to interface 0 */
#define CTRL_OUT 0x41
#define IOROUTE  55 /* §4.1, reset value 01 02 00 00 00 00 00 00 */

/* A simulator answers at once; this only bounds a broken run. */
#define TIMEOUT_MS 2000
/* contract.md §5: a control transfer costs 0.5 ms by default (--sim-usb-latency) */
#define LATENCY_S 0.0005

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* §2.5: [length u32 LE][address u32 LE] */
static void header(uint8_t h[8], uint32_t len, uint32_t addr)
{
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(len >> (8 * i));
        h[4 + i] = (uint8_t)(addr >> (8 * i));
    }
}

static libusb_device *find_lite(libusb_context *ctx)
{
    libusb_device **list, *found = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        if (libusb_get_device_descriptor(list[i], &d) == 0 && d.idVendor == VID &&
            d.idProduct == PID_LITE && found == NULL)
            found = libusb_ref_device(list[i]);
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    return found;
}

static int fw_version(libusb_device_handle *h, uint8_t ver[3])
{
    return libusb_control_transfer(h, CTRL_IN, 0x17, 0, 0, ver, 3, TIMEOUT_MS);
}

static void cb_done(struct libusb_transfer *t)
{
    *(int *)t->user_data = 1;
}

static void test_basic(libusb_context *ctx)
{
    libusb_device *dev = find_lite(ctx);
    CHECK(dev != NULL);
    if (dev == NULL)
        return;
    struct libusb_device_descriptor d;
    CHECK_EQ_INT(libusb_get_device_descriptor(dev, &d), 0);
    CHECK_EQ_INT(d.bcdDevice, 0x0900);                             /* §1.1 */
    CHECK_EQ_INT(libusb_get_device_speed(dev), LIBUSB_SPEED_HIGH); /* §1.1 */
    CHECK_EQ_INT(libusb_get_max_packet_size(dev, EP_IN), 512);     /* §1.1 HS bulk */
    libusb_device_handle *h = NULL;
    CHECK_EQ_INT(libusb_open(dev, &h), 0);
    if (h == NULL) {
        libusb_unref_device(dev);
        return;
    }
    /* §1.3 step 5: a C host claims interface 0; usbfs refuses interfaces that do not exist */
    CHECK_EQ_INT(libusb_claim_interface(h, 0), 0);
    CHECK_EQ_INT(libusb_claim_interface(h, 7), LIBUSB_ERROR_NOT_FOUND);

    unsigned char serial[64] = {0};
    CHECK_EQ_INT(libusb_get_string_descriptor_ascii(h, d.iSerialNumber, serial, sizeof serial),
                 32); /* §1.1: 32 hex digits */

    uint8_t ver[3] = {0};
    CHECK_EQ_INT(fw_version(h, ver), 3);
    CHECK_MEM(ver, "\x00\x41\x00", 3); /* §3.6 B.1: 0.65.0 */

    uint8_t buf[64];
    /* §8: an unknown request is stalled */
    CHECK_EQ_INT(libusb_control_transfer(h, CTRL_IN, 0x7F, 0, 0, buf, 4, TIMEOUT_MS),
                 LIBUSB_ERROR_PIPE);

    /* §8: bulk IN without 0x10 is NAKed until the host's own timeout, in real time */
    int got = -1;
    double t0 = now_s();
    CHECK_EQ_INT(libusb_bulk_transfer(h, EP_IN, buf, sizeof buf, &got, 100), LIBUSB_ERROR_TIMEOUT);
    double dt = now_s() - t0;
    CHECK(dt >= 0.095 && dt < 1.5);
    CHECK_EQ_INT(got, 0);

    /* A bulk IN queued before its 0x10 completes once the 0x10 has set the read up (§2.5) */
    struct libusb_transfer *t = libusb_alloc_transfer(0);
    int done = 0;
    memset(buf, 0xEE, sizeof buf);
    libusb_fill_bulk_transfer(t, h, EP_IN, buf, sizeof buf, cb_done, &done, TIMEOUT_MS);
    CHECK_EQ_INT(libusb_submit_transfer(t), 0);
    uint8_t hdr[8];
    header(hdr, sizeof buf, IOROUTE);
    CHECK_EQ_INT(libusb_control_transfer(h, CTRL_OUT, 0x10, 0, 0, hdr, 8, TIMEOUT_MS), 8);
    double until = now_s() + 3;
    while (!done && now_s() < until) {
        struct timeval tv = {0, 100000};
        libusb_handle_events_timeout_completed(ctx, &tv, &done);
    }
    CHECK(done);
    CHECK_EQ_INT(t->status, LIBUSB_TRANSFER_COMPLETED);
    CHECK_EQ_INT(t->actual_length, 64);
    CHECK_MEM(buf, "\x01\x02\x00\x00\x00\x00\x00\x00", 8); /* §4.1 IOROUTE reset value */
    libusb_free_transfer(t);

    /* contract.md §5: every control transfer takes the USB latency, in real time here */
    t0 = now_s();
    int ok = 0;
    for (int i = 0; i < 40; i++)
        ok += fw_version(h, ver) == 3;
    dt = now_s() - t0;
    CHECK_EQ_INT(ok, 40);
    CHECK(dt >= 40 * LATENCY_S);

    CHECK_EQ_INT(libusb_release_interface(h, 0), 0);
    libusb_close(h);
    libusb_unref_device(dev);
}

/* The virtual clock follows real time: the board's USART shifts bytes out at the real baud
 * rate (§5.1, §5.2). 48 bytes at 9600 baud 8N1 (10 bits each; the divider is exact, CD 625)
 * leave the TX buffer over 50 ms of real time: every poll of the TX count (0x1B/0x18) must
 * find what the real time elapsed around it allows, give or take two bytes, however late
 * the scheduler runs us. */
static void test_uart_time(libusb_context *ctx)
{
    const double byte_s = 10.0 / 9600;
    libusb_device *dev = find_lite(ctx);
    if (dev == NULL)
        return;
    libusb_device_handle *h = NULL;
    CHECK_EQ_INT(libusb_open(dev, &h), 0);
    libusb_unref_device(dev);
    if (h == NULL)
        return;
    uint8_t init[7] = {0x80, 0x25, 0, 0, 0, 0, 8}; /* §5.1 INIT: 9600, 1 stop, no parity, 8 */
    CHECK_EQ_INT(libusb_control_transfer(h, CTRL_OUT, 0x1B, 0x0010, 0, init, 7, TIMEOUT_MS), 7);
    CHECK_EQ_INT(libusb_control_transfer(h, CTRL_OUT, 0x1B, 0x0011, 0, NULL, 0, TIMEOUT_MS), 0);
    uint8_t data[48];
    memset(data, 'U', sizeof data);
    double w0 = now_s();
    CHECK_EQ_INT(libusb_control_transfer(h, CTRL_OUT, 0x1A, 0, 0, data, 48, TIMEOUT_MS), 48);
    double w1 = now_s();
    long count = 1;
    int polls = 0, early = 0, late = 0;
    while (count != 0 && now_s() - w0 < 3) {
        uint8_t c[4];
        double a = now_s();
        if (libusb_control_transfer(h, CTRL_IN, 0x1B, 0x0018, 0, c, 4, TIMEOUT_MS) != 4)
            break;
        double b = now_s();
        count = (long)((uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 |
                       (uint32_t)c[3] << 24);
        long most_gone = (long)((b - w0) / byte_s) + 3; /* at most this many bytes shifted */
        long least_gone = (long)((a - w1) / byte_s) - 2;
        early += count < 48 - most_gone;              /* the board ran ahead of real time */
        late += count > 0 && count > 48 - least_gone; /* the board lagged behind it */
        polls++;
        usleep(2000);
    }
    double dt = now_s() - w0;
    CHECK(polls >= 3);
    CHECK_EQ_INT(early, 0);
    CHECK_EQ_INT(late, 0);
    CHECK_EQ_INT(count, 0);           /* all gone in the end */
    CHECK(dt >= 48 * byte_s - 0.002); /* and not before 50 ms */
    libusb_close(h);
}

/* The synchronous usbfs ioctls, which libusb never uses but other programs do. */
static void test_ioctls(libusb_context *ctx)
{
    libusb_device *dev = find_lite(ctx);
    if (dev == NULL)
        return;
    char path[64];
    snprintf(path, sizeof path, "/dev/bus/usb/%03u/%03u", libusb_get_bus_number(dev),
             libusb_get_device_address(dev));
    libusb_unref_device(dev);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    uint8_t buf[64];
    struct usbdevfs_ctrltransfer ct = {
        .bRequestType = CTRL_IN, .bRequest = 0x17, .wLength = 3, .timeout = 1000, .data = buf};
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_CONTROL, &ct), 3);
    CHECK_MEM(buf, "\x00\x41\x00", 3);
    ct.bRequest = 0x7F; /* §8: stalled */
    errno = 0;
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_CONTROL, &ct), -1);
    CHECK_EQ_INT(errno, EPIPE);

    struct usbdevfs_bulktransfer bt = {.ep = EP_IN, .len = 64, .timeout = 100, .data = buf};
    double t0 = now_s();
    errno = 0;
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_BULK, &bt), -1); /* §8: no 0x10, no data */
    CHECK_EQ_INT(errno, ETIMEDOUT);
    double dt = now_s() - t0;
    CHECK(dt >= 0.095 && dt < 1.5);

    uint8_t hdr[8];
    header(hdr, 64, IOROUTE);
    struct usbdevfs_ctrltransfer out = {
        .bRequestType = CTRL_OUT, .bRequest = 0x10, .wLength = 8, .timeout = 1000, .data = hdr};
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_CONTROL, &out), 8);
    memset(buf, 0xEE, sizeof buf);
    bt.timeout = 1000;
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_BULK, &bt), 64);
    CHECK_MEM(buf, "\x01\x02\x00\x00\x00\x00\x00\x00", 8);
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_GET_SPEED), 3); /* USB_SPEED_HIGH, §1.1 */

    /* URBs by hand: a control URB carries its setup packet in front; the blocking reap waits
     * for it (through the latency); a bulk IN nobody answers ends -ENOENT once discarded */
    uint8_t cbuf[8 + 3] = {CTRL_IN, 0x17, 0, 0, 0, 0, 3, 0};
    struct usbdevfs_urb cu = {.type = USBDEVFS_URB_TYPE_CONTROL,
                              .endpoint = 0,
                              .buffer = cbuf,
                              .buffer_length = sizeof cbuf};
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_SUBMITURB, &cu), 0);
    void *reaped = NULL;
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_REAPURB, &reaped), 0);
    CHECK(reaped == &cu);
    CHECK_EQ_INT(cu.status, 0);
    CHECK_EQ_INT(cu.actual_length, 3); /* usbfs: without the setup packet */
    CHECK_MEM(cbuf + 8, "\x00\x41\x00", 3);
    struct usbdevfs_urb bu = {
        .type = USBDEVFS_URB_TYPE_BULK, .endpoint = EP_IN, .buffer = buf, .buffer_length = 64};
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_SUBMITURB, &bu), 0);
    reaped = NULL;
    errno = 0;
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_REAPURBNDELAY, &reaped), -1); /* §8: no 0x10, no data */
    CHECK_EQ_INT(errno, EAGAIN);
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_DISCARDURB, &bu), 0);
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_REAPURB, &reaped), 0);
    CHECK(reaped == &bu);
    CHECK_EQ_INT(bu.status, -ENOENT);
    errno = 0;
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_DISCARDURB, &bu), -1); /* no longer in flight */
    CHECK_EQ_INT(errno, EINVAL);
    unsigned iface = 5;
    errno = 0;
    CHECK_EQ_INT(ioctl(fd, USBDEVFS_CLAIMINTERFACE, &iface), -1); /* usbfs: no interface 5 */
    CHECK_EQ_INT(errno, ENOENT);
    close(fd);
}

typedef struct hotplug_log {
    int arrived, left;
    uint8_t arrived_addr;
} hotplug_log;

static int on_hotplug(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev, void *user)
{
    hotplug_log *log = user;
    (void)ctx;
    if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
        log->arrived++;
        log->arrived_addr = libusb_get_device_address(dev);
    } else {
        log->left++;
    }
    return 0;
}

static void wait_events(libusb_context *ctx, hotplug_log *log, int arrived, int left, double secs)
{
    double until = now_s() + secs;
    while ((log->arrived < arrived || log->left < left) && now_s() < until) {
        struct timeval tv = {0, 50000};
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
    }
}

/* §2.3 0x22/0x10 RESET: the board detaches and comes back under a new address. */
static void test_reset(libusb_context *ctx)
{
    hotplug_log log = {0};
    libusb_hotplug_callback_handle cbh;
    CHECK(libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG));
    CHECK_EQ_INT(libusb_hotplug_register_callback(
                     ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
                     VID, PID_LITE, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, &log, &cbh),
                 0);
    libusb_device *dev = find_lite(ctx);
    if (dev == NULL)
        return;
    uint8_t old_addr = libusb_get_device_address(dev);
    libusb_device_handle *h = NULL;
    CHECK_EQ_INT(libusb_open(dev, &h), 0);
    libusb_unref_device(dev);
    if (h == NULL)
        return;
    /* §8: the reset acts after the status stage, so the request itself completes */
    CHECK_EQ_INT(libusb_control_transfer(h, CTRL_OUT, 0x22, 0x0010, 0, NULL, 0, TIMEOUT_MS), 0);
    uint8_t ver[3];
    CHECK_EQ_INT(fw_version(h, ver), LIBUSB_ERROR_NO_DEVICE); /* §8: the old handle is dead */
    libusb_close(h);
    wait_events(ctx, &log, 1, 1, 10);
    CHECK_EQ_INT(log.left, 1);
    CHECK_EQ_INT(log.arrived, 1);
    CHECK(log.arrived != 0 && log.arrived_addr != old_addr); /* a new address, as on Linux */
    dev = find_lite(ctx);
    CHECK(dev != NULL);
    if (dev != NULL) {
        CHECK_EQ_INT(libusb_get_device_address(dev), log.arrived_addr);
        CHECK_EQ_INT(libusb_open(dev, &h), 0);
        if (h != NULL) {
            CHECK_EQ_INT(fw_version(h, ver), 3);
            CHECK_MEM(ver, "\x00\x41\x00", 3);
            libusb_close(h);
        }
        libusb_unref_device(dev);
    }
    libusb_hotplug_deregister_callback(ctx, cbh);
}

/* contract.md §5 unplug-after=N: transfer N+1 and every later one find no board; the helper adds
 * no transfers of its own, so exactly N of ours succeed. */
static void test_unplug(libusb_context *ctx, int n)
{
    hotplug_log log = {0};
    libusb_hotplug_callback_handle cbh;
    CHECK_EQ_INT(libusb_hotplug_register_callback(ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0, VID,
                                                  PID_LITE, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug,
                                                  &log, &cbh),
                 0);
    libusb_device *dev = find_lite(ctx);
    CHECK(dev != NULL);
    if (dev == NULL)
        return;
    libusb_device_handle *h = NULL;
    CHECK_EQ_INT(libusb_open(dev, &h), 0);
    libusb_unref_device(dev);
    if (h == NULL)
        return;
    uint8_t ver[3];
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += fw_version(h, ver) == 3;
    CHECK_EQ_INT(ok, n);
    CHECK_EQ_INT(fw_version(h, ver), LIBUSB_ERROR_NO_DEVICE);
    CHECK_EQ_INT(fw_version(h, ver), LIBUSB_ERROR_NO_DEVICE);
    libusb_close(h);
    wait_events(ctx, &log, 0, 1, 5);
    CHECK_EQ_INT(log.left, 1);
    dev = find_lite(ctx);
    CHECK(dev == NULL); /* gone from the bus */
    if (dev != NULL)
        libusb_unref_device(dev);
    libusb_hotplug_deregister_callback(ctx, cbh);
}

int main(int argc, char **argv)
{
    libusb_context *ctx = NULL;
    if (libusb_init(&ctx) != 0) {
        fprintf(stderr, "libusb_client: libusb_init failed\n");
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--unplug-after") == 0) {
        test_unplug(ctx, atoi(argv[2]));
    } else {
        test_basic(ctx);
        test_uart_time(ctx);
        test_ioctls(ctx);
        test_reset(ctx);
    }
    libusb_exit(ctx);
    return check_report("libusb_client");
}

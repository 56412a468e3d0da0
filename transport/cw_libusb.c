/* SPDX-License-Identifier: MIT */
/* libusb backend: listing NewAE boards, opening one, control and bulk transfers. */
#include "cw_libusb.h"

#include <libusb.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEWAE_VID    0x2B3E /* every NewAE board (cw-usb-protocol.md §1.1) */
#define VENDOR_IFACE 0      /* the vendor interface; all requests go here (§1.2) */

typedef struct board_id {
    uint16_t pid;
    const char *kind;
    uint8_t ep_in, ep_out;
} board_id;

/* The capture boards (§1.1) and their vendor bulk endpoints (§1.2); the Husky Plus (ACE6)
 * speaks the Husky's protocol. */
/* clang-format off */
static const board_id BOARDS[] = {
    {0xACE0, "nano", 0x81, 0x02},
    {0xACE2, "cwlite", 0x81, 0x02},
    {0xACE3, "cw1200", 0x81, 0x02},
    {0xACE5, "husky", 0x85, 0x06},
    {0xACE6, "husky", 0x85, 0x06},
};
/* clang-format on */

static const board_id *board_by_pid(uint16_t pid)
{
    for (size_t i = 0; i < sizeof BOARDS / sizeof BOARDS[0]; i++) {
        if (BOARDS[i].pid == pid)
            return &BOARDS[i];
    }
    return NULL;
}

/* ---- the one place libusb's error codes become cw_err (style.md §1.3) ----------------- */

static cw_code code_of(int rc)
{
    switch (rc) {
    case LIBUSB_ERROR_ACCESS:
        return CW_E_ACCESS;
    case LIBUSB_ERROR_BUSY:
        return CW_E_BUSY;
    case LIBUSB_ERROR_NO_DEVICE:
    case LIBUSB_ERROR_NOT_FOUND:
        return CW_E_NO_DEVICE;
    case LIBUSB_ERROR_TIMEOUT:
        return CW_E_TIMEOUT;
    case LIBUSB_ERROR_PIPE:
        return CW_E_STALL;
    case LIBUSB_ERROR_OVERFLOW:
        return CW_E_OVERFLOW;
    case LIBUSB_ERROR_NO_MEM:
        return CW_E_NO_MEMORY;
    case LIBUSB_ERROR_NOT_SUPPORTED:
        return CW_E_UNSUPPORTED;
    case LIBUSB_ERROR_INVALID_PARAM:
        return CW_E_INVALID;
    default:
        return CW_E_IO;
    }
}

static const char *words_of(int rc)
{
    switch (rc) {
    case LIBUSB_ERROR_ACCESS:
        return "permission denied";
    case LIBUSB_ERROR_BUSY:
        return "busy";
    case LIBUSB_ERROR_NO_DEVICE:
        return "the board is gone (unplugged, or resetting)";
    case LIBUSB_ERROR_NOT_FOUND:
        return "not found";
    case LIBUSB_ERROR_PIPE:
        return "stalled: the board refused the request";
    case LIBUSB_ERROR_OVERFLOW:
        return "the board sent more than asked for";
    default:
        return libusb_strerror(rc);
    }
}

/* Fill err from a libusb result: "<what>: <words>", timeouts with their length. */
/* libusb_init, tried again a few times when it fails for "other" reasons. Under umockdev's
 * preload (cwlua sim attach) the uevent netlink socket libusb's hotplug monitor opens is a Unix
 * socket bound at $UMOCKDEV_DIR/eventFD, FD its descriptor number: processes started alike at
 * the same moment (the workers of a command on several boards) get the same number, and the one
 * whose bind comes second fails (EADDRINUSE), which libusb reports as LIBUSB_ERROR_OTHER. The
 * next try, a moment later, binds. On real hardware a retry of this rare failure costs nothing.
 * (test-harnesses.md §1.4) */
static int init_libusb(libusb_context **ctx)
{
    int rc = LIBUSB_ERROR_OTHER;
    for (int attempt = 0; attempt < 5 && rc == LIBUSB_ERROR_OTHER; attempt++) {
        if (attempt > 0)
            cw_monotonic_sleep_ns((uint64_t)(1 + attempt) * 3000000u);
        rc = libusb_init(ctx);
    }
    return rc;
}

static int usb_fail(cw_err *err, int rc, const char *what, unsigned timeout_ms)
{
    if (rc == LIBUSB_ERROR_TIMEOUT)
        return cw_err_set(err, CW_E_TIMEOUT, "%s: no answer within %u ms", what, timeout_ms);
    return cw_err_set(err, code_of(rc), "%s: %s", what, words_of(rc));
}

/* ---- listing ------------------------------------------------------------------------------ */

/* A string descriptor as ASCII into out ("" when there is none); 0 or a libusb error. */
static int read_string(libusb_device_handle *h, uint8_t index, char *out, size_t len)
{
    unsigned char buf[128];
    if (index == 0)
        return 0;
    int n = libusb_get_string_descriptor_ascii(h, index, buf, sizeof buf);
    if (n < 0)
        return n;
    snprintf(out, len, "%.*s", n, (const char *)buf);
    return 0;
}

static void port_path(libusb_device *d, char *out, size_t len)
{
    uint8_t ports[8];
    int n = libusb_get_port_numbers(d, ports, (int)sizeof ports);
    if (n <= 0)
        return;
    int k = snprintf(out, len, "%u-%u", (unsigned)libusb_get_bus_number(d), (unsigned)ports[0]);
    for (int i = 1; i < n && k > 0 && (size_t)k < len; i++)
        k += snprintf(out + k, len - (size_t)k, ".%u", (unsigned)ports[i]);
}

/* A string attribute of the device in sysfs (Linux: /sys/bus/usb/devices/PORT/NAME, e.g.
 * serial, product): the kernel read the string descriptors when the device enumerated, so
 * this costs no transfer and needs no permission on the device node. 0 when found. */
static int sysfs_string(const char *port, const char *name, char *out, size_t len)
{
    char path[128];
    if (port[0] == '\0' || len == 0 ||
        (size_t)snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/%s", port, name) >=
            sizeof path)
        return -1;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char *got = fgets(out, (int)len, f);
    fclose(f);
    if (got == NULL)
        return -1;
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

int cw_libusb_list(cw_libusb_entry **out, size_t *count, int open_each, cw_err *err)
{
    *out = NULL;
    *count = 0;
    libusb_context *ctx = NULL;
    int rc = init_libusb(&ctx);
    if (rc != 0)
        return usb_fail(err, rc, "libusb", 0);
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0) {
        libusb_exit(ctx);
        return usb_fail(err, (int)n, "libusb: listing devices", 0);
    }
    cw_libusb_entry *v = calloc((size_t)n + 1, sizeof *v);
    if (v == NULL) {
        libusb_free_device_list(list, 1);
        libusb_exit(ctx);
        return cw_err_set(err, CW_E_NO_MEMORY, "out of memory");
    }
    size_t k = 0;
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        if (libusb_get_device_descriptor(list[i], &d) != 0 || d.idVendor != NEWAE_VID)
            continue;
        cw_libusb_entry *e = &v[k++];
        const board_id *id = board_by_pid(d.idProduct);
        e->bus = libusb_get_bus_number(list[i]);
        e->address = libusb_get_device_address(list[i]);
        port_path(list[i], e->port, sizeof e->port);
        e->vid = d.idVendor;
        e->pid = d.idProduct;
        snprintf(e->kind, sizeof e->kind, "%s", id ? id->kind : "");
        if (!open_each && sysfs_string(e->port, "serial", e->serial, sizeof e->serial) == 0) {
            sysfs_string(e->port, "product", e->product, sizeof e->product);
            continue;
        }
        libusb_device_handle *h = NULL;
        rc = libusb_open(list[i], &h);
        if (rc != 0) {
            e->code = code_of(rc);
            snprintf(e->msg, sizeof e->msg, "%s", words_of(rc));
            continue;
        }
        /* a string that cannot be read stays "": the device is listed all the same */
        read_string(h, d.iProduct, e->product, sizeof e->product);
        read_string(h, d.iSerialNumber, e->serial, sizeof e->serial);
        libusb_close(h);
    }
    libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    *out = v;
    *count = k;
    return CW_OK;
}

/* ---- an open board ------------------------------------------------------------------------ */

typedef struct usb_dev {
    cw_dev dev; /* first: a cw_dev * is a usb_dev * */
    libusb_context *ctx;
    libusb_device_handle *h;
} usb_dev;

static const cw_dev_ops usb_ops;

static usb_dev *as_usb(cw_dev *dev)
{
    return (usb_dev *)(void *)dev;
}

/* libusb reports a board unplugged in the middle of a transfer that it split into several
 * URBs as a plain I/O error (the first URBs went out, a later one found no device). Ask the
 * board a standard GET_STATUS to tell the two apart: a board that is gone fails it at once. */
#define GONE_CHECK_TIMEOUT_MS 200
static int refine(usb_dev *u, int rc)
{
    unsigned char status[2];
    if (rc != LIBUSB_ERROR_IO && rc != LIBUSB_ERROR_OTHER)
        return rc;
    int r = libusb_control_transfer(u->h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_STATUS, 0, 0,
                                    status, sizeof status, GONE_CHECK_TIMEOUT_MS);
    return r == LIBUSB_ERROR_NO_DEVICE ? r : rc;
}

static int usb_control(cw_dev *dev, uint8_t bm_request_type, uint8_t b_request, uint16_t w_value,
                       uint16_t w_index, uint8_t *data, uint16_t w_length, unsigned timeout_ms,
                       size_t *actual, cw_err *err)
{
    usb_dev *u = as_usb(dev);
    int in = (bm_request_type & 0x80) != 0;
    char what[48];
    snprintf(what, sizeof what, "control %s 0x%02X", in ? "IN" : "OUT", b_request);
    if (timeout_ms == 0) /* libusb reads 0 as "forever": nothing here may hang */
        return cw_err_set(err, CW_E_INVALID, "%s: a timeout is needed", what);
    int rc = libusb_control_transfer(u->h, bm_request_type, b_request, w_value, w_index, data,
                                     w_length, timeout_ms);
    if (rc < 0)
        return usb_fail(err, refine(u, rc), what, timeout_ms);
    if (!in && rc != w_length)
        return cw_err_set(err, CW_E_IO, "%s: %d of %u bytes sent", what, rc, (unsigned)w_length);
    *actual = (size_t)rc;
    return CW_OK;
}

static int usb_bulk(cw_dev *dev, uint8_t ep, uint8_t *data, size_t len, unsigned timeout_ms,
                    size_t *actual, cw_err *err)
{
    usb_dev *u = as_usb(dev);
    char what[48];
    snprintf(what, sizeof what, "bulk %s 0x%02X", (ep & 0x80) ? "IN" : "OUT", ep);
    if (timeout_ms == 0)
        return cw_err_set(err, CW_E_INVALID, "%s: a timeout is needed", what);
    if (len > INT_MAX)
        return cw_err_set(err, CW_E_INVALID, "%s: %zu bytes is too long", what, len);
    int done = 0;
    int rc = libusb_bulk_transfer(u->h, ep, data, (int)len, &done, timeout_ms);
    if (rc == LIBUSB_ERROR_PIPE) {
        /* A halted endpoint stays halted until the host clears it (USB 2.0 §9.4.5); clear it
         * so the next transfer can work, and report the stall. */
        libusb_clear_halt(u->h, ep);
    }
    if (rc == LIBUSB_ERROR_TIMEOUT && done > 0)
        return cw_err_set(err, CW_E_TIMEOUT, "%s: no answer within %u ms (%d of %zu bytes moved)",
                          what, timeout_ms, done, len);
    if (rc != 0)
        return usb_fail(err, refine(u, rc), what, timeout_ms);
    if (!(ep & 0x80) && (size_t)done != len)
        return cw_err_set(err, CW_E_IO, "%s: %d of %zu bytes sent", what, done, len);
    *actual = (size_t)done;
    return CW_OK;
}

static void usb_close(cw_dev *dev)
{
    usb_dev *u = as_usb(dev);
    if (u->h != NULL) {
        libusb_release_interface(u->h, VENDOR_IFACE); /* fails harmlessly when unplugged */
        libusb_close(u->h);
    }
    if (u->ctx != NULL)
        libusb_exit(u->ctx);
    free(u);
}

static const cw_dev_ops usb_ops = {
    .name = "libusb",
    .close = usb_close,
    .control = usb_control,
    .bulk = usb_bulk,
    .now_ns = NULL, /* the monotonic clock (contract.md §4) */
    .sleep_ns = NULL,
};

/* The device at bus/address, with a reference held (NULL when it is not there). */
static libusb_device *find_device(libusb_context *ctx, uint8_t bus, uint8_t address,
                                  struct libusb_device_descriptor *desc)
{
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    libusb_device *found = NULL;
    for (ssize_t i = 0; i < n && found == NULL; i++) {
        if (libusb_get_bus_number(list[i]) == bus &&
            libusb_get_device_address(list[i]) == address &&
            libusb_get_device_descriptor(list[i], desc) == 0)
            found = libusb_ref_device(list[i]);
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    return found;
}

int cw_libusb_open(cw_dev **out, uint8_t bus, uint8_t address, const char *serial, cw_err *err)
{
    char where[32];
    snprintf(where, sizeof where, "usb %03u/%03u", (unsigned)bus, (unsigned)address);
    *out = NULL;
    usb_dev *u = calloc(1, sizeof *u);
    if (u == NULL)
        return cw_err_set(err, CW_E_NO_MEMORY, "%s: out of memory", where);
    u->dev.ops = &usb_ops;
    int rc = init_libusb(&u->ctx);
    if (rc != 0) {
        u->ctx = NULL;
        usb_close(&u->dev);
        return usb_fail(err, rc, "libusb", 0);
    }
    struct libusb_device_descriptor d;
    libusb_device *device = find_device(u->ctx, bus, address, &d);
    const board_id *id = device ? board_by_pid(d.idProduct) : NULL;
    if (device == NULL || d.idVendor != NEWAE_VID || id == NULL) {
        if (device != NULL)
            libusb_unref_device(device);
        usb_close(&u->dev);
        return cw_err_set(err, CW_E_NO_DEVICE, "%s: no ChipWhisperer board there (unplugged?)",
                          where);
    }
    rc = libusb_open(device, &u->h);
    libusb_unref_device(device);
    if (rc != 0) {
        u->h = NULL;
        usb_close(&u->dev);
        char what[64];
        snprintf(what, sizeof what, "%s: cannot open it", where);
        return usb_fail(err, rc, what, 0);
    }
    cw_dev_info *info = &u->dev.info;
    rc = read_string(u->h, d.iSerialNumber, info->serial, sizeof info->serial);
    if (rc == 0)
        rc = read_string(u->h, d.iProduct, info->product, sizeof info->product);
    if (rc != 0) {
        usb_close(&u->dev);
        char what[64];
        snprintf(what, sizeof what, "%s: reading its strings", where);
        return usb_fail(err, rc, what, 0);
    }
    if (serial != NULL && strcmp(serial, info->serial) != 0) {
        usb_close(&u->dev);
        return cw_err_set(err, CW_E_NO_DEVICE, "%s: now a board with serial %s, not %s", where,
                          info->serial, serial);
    }
    rc = libusb_claim_interface(u->h, VENDOR_IFACE);
    if (rc != 0) {
        libusb_close(u->h);
        u->h = NULL;
        usb_close(&u->dev);
        char what[64];
        snprintf(what, sizeof what, "%s: cannot claim interface 0", where);
        return usb_fail(err, rc, what, 0);
    }
    snprintf(info->backend, sizeof info->backend, "libusb");
    snprintf(info->kind, sizeof info->kind, "%s", id->kind);
    info->vid = d.idVendor;
    info->pid = d.idProduct;
    info->ep_bulk_in = id->ep_in;
    info->ep_bulk_out = id->ep_out;
    *out = &u->dev;
    return CW_OK;
}

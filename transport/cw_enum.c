/* Listing boards and ports. */
#include "cw_enum.h"

#include <libserialport.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEWAE_VID  0x2B3E /* cw-usb-protocol §1.1 */
#define REQ_FPGA   0x15   /* FPGA status, byte0 bit0 = DONE (§2.3, §3.3) */
#define REQ_FW     0x17   /* firmware version [major][minor][debug] (§2.3) */
#define PID_NANO   0xACE0 /* no FPGA (§7.1) */
#define TIMEOUT_MS 500    /* NewAE's timeout before a device is opened (§1.3 item 6) */

static void describe(libusb_device_handle *h, cw_usb_entry *e, uint8_t iproduct, uint8_t iserial)
{
    unsigned char buf[64];
    if (iproduct && libusb_get_string_descriptor_ascii(h, iproduct, buf, sizeof buf) > 0)
        snprintf(e->product, sizeof e->product, "%s", (char *)buf);
    if (iserial && libusb_get_string_descriptor_ascii(h, iserial, buf, sizeof buf) > 0)
        snprintf(e->serial, sizeof e->serial, "%s", (char *)buf);
    if (libusb_claim_interface(h, 0) != 0) {
        snprintf(e->problem, sizeof e->problem, "busy: another program has claimed it");
        return;
    }
    int n = libusb_control_transfer(h, 0xC1, REQ_FW, 0, 0, buf, 3, TIMEOUT_MS);
    if (n == 3) {
        e->fw_known = 1;
        memcpy(e->fw, buf, 3);
    }
    if (e->pid != PID_NANO) {
        n = libusb_control_transfer(h, 0xC1, REQ_FPGA, 0, 0, buf, 4, TIMEOUT_MS);
        if (n == 4)
            e->fpga = buf[0] & 1;
    }
    libusb_release_interface(h, 0);
}

int cw_usb_list(cw_usb_entry **out, size_t *count, cw_err *err)
{
    *out = NULL;
    *count = 0;
    libusb_context *ctx = NULL;
    int rc = libusb_init(&ctx);
    if (rc != 0)
        return cw_err_set(err, CW_E_IO, "libusb: %s", libusb_strerror(rc));
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0) {
        libusb_exit(ctx);
        return cw_err_set(err, CW_E_IO, "libusb: %s", libusb_strerror((int)n));
    }
    cw_usb_entry *v = calloc((size_t)n + 1, sizeof *v);
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
        cw_usb_entry *e = &v[k++];
        e->bus = libusb_get_bus_number(list[i]);
        e->address = libusb_get_device_address(list[i]);
        e->vid = d.idVendor;
        e->pid = d.idProduct;
        e->fpga = -1;
        libusb_device_handle *h = NULL;
        rc = libusb_open(list[i], &h);
        if (rc != 0) {
            snprintf(e->problem, sizeof e->problem, "%s",
                     rc == LIBUSB_ERROR_ACCESS ? "permission denied: install the udev rule"
                                               : libusb_strerror(rc));
            continue;
        }
        describe(h, e, d.iProduct, d.iSerialNumber);
        libusb_close(h);
    }
    libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    *out = v;
    *count = k;
    return CW_OK;
}

int cw_serial_list(cw_port_entry **out, size_t *count, cw_err *err)
{
    *out = NULL;
    *count = 0;
    struct sp_port **ports = NULL;
    if (sp_list_ports(&ports) != SP_OK) {
        char *m = sp_last_error_message();
        cw_err_set(err, CW_E_IO, "libserialport: %s", m ? m : "cannot list ports");
        sp_free_error_message(m);
        return CW_E_IO;
    }
    size_t n = 0;
    while (ports[n] != NULL)
        n++;
    cw_port_entry *v = calloc(n + 1, sizeof *v);
    if (v == NULL) {
        sp_free_port_list(ports);
        return cw_err_set(err, CW_E_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct sp_port *p = ports[i];
        const char *s = sp_get_port_name(p);
        snprintf(v[i].path, sizeof v[i].path, "%s", s ? s : "");
        s = sp_get_port_description(p);
        snprintf(v[i].description, sizeof v[i].description, "%s", s ? s : "");
        int vid = 0, pid = 0;
        if (sp_get_port_transport(p) == SP_TRANSPORT_USB &&
            sp_get_port_usb_vid_pid(p, &vid, &pid) == SP_OK) {
            v[i].vid = (uint16_t)vid;
            v[i].pid = (uint16_t)pid;
            s = sp_get_port_usb_serial(p);
            snprintf(v[i].serial, sizeof v[i].serial, "%s", s ? s : "");
        }
    }
    sp_free_port_list(ports);
    *out = v;
    *count = n;
    return CW_OK;
}

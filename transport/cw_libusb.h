/* SPDX-License-Identifier: MIT */
/* The libusb backend (-d usb, -d usb:SERIAL; contract.md §3): ChipWhisperer capture boards on real
 * USB through libusb-1.0. It lists NewAE's boards, opens one and performs control and bulk
 * transfers with timeouts. Everything a board means (firmware checks, FPGA, registers) is
 * Lua's business (scripts/cwlua/board.lua); this file only moves bytes and maps libusb's
 * errors to cw_err, in one place (style.md §1.3, §2.5).
 *
 * Documents: cw-usb-protocol.md §1 (identity, interfaces, opening), §2.1 (transfer rules), §8
 * (error behaviour), §9 (checklist for a C host). */
#ifndef CWLUA_TRANSPORT_CW_LIBUSB_H
#define CWLUA_TRANSPORT_CW_LIBUSB_H

#include "cw_transport.h"

#include <stddef.h>
#include <stdint.h>

/* One device with NewAE's vendor ID, as found on the bus. */
typedef struct cw_libusb_entry {
    uint8_t bus, address;
    char port[32];     /* physical port, "1-1.4": stays the same when the board re-enumerates */
    uint16_t vid, pid; /* 0x2B3E and the product ID */
    char kind[16];     /* "cwlite", "cw1200", "husky", "nano"; "" for other NewAE products */
    char product[64];  /* iProduct, "" when it could not be read */
    char serial[64];   /* iSerialNumber, "" when it could not be read */
    cw_code code;      /* CW_OK, or why the device could not be opened */
    char msg[160];     /* the detail for code */
} cw_libusb_entry;

/* All devices with vendor ID 0x2B3E. Each is opened briefly to read its strings (standard
 * requests only; nothing is claimed). A device that cannot be opened (permission) is still
 * listed, with code and msg saying why. open_each 0: the strings come from sysfs where it has
 * them, and such a device is not opened (so not checked either): for a caller that opens
 * each board next anyway (cwlua.multi). *out is malloc'ed (free it); CW_OK or an error for
 * libusb itself. */
int cw_libusb_list(cw_libusb_entry **out, size_t *count, int open_each, cw_err *err);

/* Open the board at bus/address and claim its vendor interface 0 (§1.3 item 5; interfaces 1
 * and 2 stay with the kernel's cdc_acm). serial: when not NULL, the board there must still
 * have this serial number (it may have been replaced between listing and opening), else
 * CW_E_NO_DEVICE. Errors: CW_E_NO_DEVICE, CW_E_ACCESS, CW_E_BUSY, CW_E_IO... */
int cw_libusb_open(cw_dev **out, uint8_t bus, uint8_t address, const char *serial, cw_err *err);

#endif

/* Enumeration for `cwlua list`: ChipWhisperer boards on USB (libusb) and serial ports
 * (libserialport). No Lua; the caller frees the lists. */
#ifndef CWLUA_TRANSPORT_CW_ENUM_H
#define CWLUA_TRANSPORT_CW_ENUM_H

#include "cw_transport.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cw_usb_entry {
    uint8_t bus, address;
    uint16_t vid, pid;
    char product[64];
    char serial[64];
    int fw_known; /* 1: fw[] read from the board */
    uint8_t fw[3];
    int fpga;          /* -1 unknown / no FPGA, 0 not configured, 1 configured */
    char problem[128]; /* why the board could not be opened or asked, "" when fine */
} cw_usb_entry;

/* All devices with NewAE's vendor ID 0x2B3E (cw-usb-protocol §1.1). Each is opened briefly to
 * read its strings, firmware version (0x17) and FPGA state (0x15). */
int cw_usb_list(cw_usb_entry **out, size_t *count, cw_err *err);

typedef struct cw_port_entry {
    char path[128];
    char description[128];
    uint16_t vid, pid; /* 0 when not a USB port */
    char serial[64];
} cw_port_entry;

int cw_serial_list(cw_port_entry **out, size_t *count, cw_err *err);

#endif

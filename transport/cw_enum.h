/* SPDX-License-Identifier: MIT */
/* Enumeration for `cwlua list`: serial ports (libserialport). USB boards are listed by the
 * libusb backend (cw_libusb.h). No Lua; the caller frees the lists. */
#ifndef CWLUA_TRANSPORT_CW_ENUM_H
#define CWLUA_TRANSPORT_CW_ENUM_H

#include "cw_transport.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cw_port_entry {
    char path[128];
    char description[128];
    uint16_t vid, pid; /* 0 when not a USB port */
    char serial[64];
} cw_port_entry;

int cw_serial_list(cw_port_entry **out, size_t *count, cw_err *err);

#endif

/* SPDX-License-Identifier: MIT */
/* The libserialport backend (-d serial:PATH, contract.md §3): a plain serial adapter as a cw_dev
 * with the serial-stream operations of cw_transport.h (line settings, bounded reads and writes,
 * DTR/RTS/break, flush, queue sizes) and no USB transfers. Its clock is the monotonic clock.
 *
 * Errors carry the stable codes of cw_transport.h and a factual message; the hints (the
 * dialout group, who may hold the port) are added in Lua (scripts/cwlua/port.lua):
 *   no_device    no such path, or the adapter went away (unplugged) while in use
 *   access       permission denied on the device node
 *   busy         another program has the port open exclusively (or holds its lock)
 *   unsupported  a path that exists but is not a serial port libserialport can drive (a pty)
 *   invalid      a path that is not a character device, or line settings the port refuses
 *   timeout      a write that could not be queued in time (reads time out quietly) */
#ifndef CWLUA_TRANSPORT_CW_SERIALPORT_H
#define CWLUA_TRANSPORT_CW_SERIALPORT_H

#include "cw_transport.h"

#include <stdint.h>

typedef struct cw_serialport_info {
    char path[256];
    char description[128]; /* libserialport's description ("ChipWhisperer Lite - 1234") */
    char manufacturer[64]; /* USB strings, "" when not a USB port or unknown */
    char product[64];
    char usb_serial[64];
    int usb;           /* 1: a USB adapter (vid/pid known) */
    uint16_t vid, pid; /* 0 when not a USB port */
} cw_serialport_info;

/* Open PATH for reading and writing, lock it against other cwlua/pyserial-style users
 * (flock) and mark it exclusive (TIOCEXCL), switch off flow control. The line settings are
 * left as the port had them until line_config; DTR and RTS are never touched by opening. */
int cw_serialport_open(cw_dev **out, const char *path, cw_err *err);

/* What the backend knows about the port behind dev; NULL when dev is not a serial port. */
const cw_serialport_info *cw_serialport_info_of(const cw_dev *dev);

#endif

/* SPDX-License-Identifier: MIT */
/* Shared by fuzz_xprog and fuzz_v2: vendor control transfers to a simulated board the way a
 * host makes them, with host buffers of exactly wLength bytes (so AddressSanitizer sees an
 * engine that writes past them), and the checks every transfer must pass (cwsim.h: an IN
 * returns at most wLength bytes or an error code, an OUT returns wLength or an error code). */
#ifndef CWLUA_TESTS_FUZZ_FUZZ_USB_H
#define CWLUA_TESTS_FUZZ_FUZZ_USB_H

#include "cwsim.h"
#include "fuzz.h"

#include <string.h>

#define VENDOR_OUT 0x41 /* vendor, interface, host to device (cw-usb-protocol.md §2.1) */
#define VENDOR_IN  0xC1
#define USB_MS     1000u /* the host's timeout per transfer */

static inline int fz_valid_error(int r)
{
    return r == CWSIM_STALL || r == CWSIM_TIMEOUT || r == CWSIM_NODEV || r == CWSIM_INVALID ||
           r == CWSIM_OVERFLOW;
}

/* An OUT request with len bytes of payload. Returns what the board returned. */
static inline int fz_out(cwsim_board *b, uint8_t req, uint16_t val, const uint8_t *payload,
                         uint16_t len)
{
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        abort();
    if (len > 0)
        memcpy(buf, payload, len);
    int r = cwsim_board_control(b, VENDOR_OUT, req, val, 0, buf, len, USB_MS);
    free(buf);
    fz_trace("OUT %02X %04X [%u] -> %d\n", req, val, len, r);
    if (r != len && !fz_valid_error(r))
        fz_finding("OUT 0x%02X wValue 0x%04X wLength %u returned %d", req, val, len, r);
    return r;
}

/* An IN request for len bytes into out (which has room for len). */
static inline int fz_in(cwsim_board *b, uint8_t req, uint16_t val, uint8_t *out, uint16_t len)
{
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        abort();
    int r = cwsim_board_control(b, VENDOR_IN, req, val, 0, buf, len, USB_MS);
    if (r > 0 && out != NULL)
        memcpy(out, buf, (size_t)r);
    fz_trace("IN  %02X %04X [%u] -> %d:", req, val, len, r);
    for (int i = 0; i < r && i < 16; i++)
        fz_trace(" %02X", buf[i]);
    fz_trace("\n");
    free(buf);
    if ((r < 0 && !fz_valid_error(r)) || r > (int)len)
        fz_finding("IN 0x%02X wValue 0x%04X wLength %u returned %d", req, val, len, r);
    return r;
}

#endif

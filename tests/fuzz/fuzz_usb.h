/* SPDX-License-Identifier: MIT */
/* Shared by fuzz_xprog and fuzz_v2: vendor control transfers to a simulated board the way a
 * host makes them, with host buffers of exactly wLength bytes (so AddressSanitizer sees an
 * engine that writes past them), and the checks every transfer must pass (cwsim.h: an IN
 * returns at most wLength bytes or an error code, an OUT returns wLength or an error code);
 * then the operations both engine harnesses read from their input the same way (§ numbers:
 * target-protocols.md). */
#ifndef CWLUA_TESTS_FUZZ_FUZZ_USB_H
#define CWLUA_TESTS_FUZZ_FUZZ_USB_H

#include "cwsim.h"
#include "fuzz.h"

#include <string.h>

#define VENDOR_OUT 0x41 /* vendor, interface, host to device (cw-usb-protocol.md §2.1) */
#define VENDOR_IN  0xC1
#define USB_MS     1000u      /* the host's timeout per transfer */
#define FZ_MS      1000000ull /* a millisecond of virtual time, in ns */

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

/* A board's engine on its vendor request: XPROG on 0x20, V2 on 0x21. Both have a RAM buffer
 * the host fills and reads at an offset (wValue = request | offset << 8), with the two
 * request numbers swapped between them (§B.1, §C.1). */
typedef struct fz_engine {
    uint8_t req;                    /* the vendor request */
    uint8_t set_rambuf, get_rambuf; /* wValue's low byte for filling and for reading the buffer */
} fz_engine;

/* The operations both engine harnesses have, by the low three bits of the code byte op, with
 * their arguments read from f: 0 a raw OUT (any wValue, up to 255 bytes: more than 128
 * stalls), 1 a raw IN, 3 SET_RAMBUF and 4 GET_RAMBUF at an offset (up to 64 bytes), 5 time
 * passing on the host. Returns 1 when op was one of them, 0 when it is the harness's own
 * (nothing read). The order of the reads is what the committed corpora were made with. */
static inline int fz_engine_op(cwsim *sim, cwsim_board *b, const fz_engine *e, uint8_t op, fz *f)
{
    uint8_t buf[256];
    switch (op & 7u) {
    case 0: {
        uint16_t val = fz_u16(f), len = fz_u8(f);
        memset(buf, 0, len);
        fz_bytes(f, buf, len);
        fz_out(b, e->req, val, buf, len);
        return 1;
    }
    case 1: {
        uint16_t val = fz_u16(f), len = fz_u16(f) % 300u;
        fz_in(b, e->req, val, NULL, len);
        return 1;
    }
    case 3: {
        uint8_t off = fz_u8(f), len = (uint8_t)(fz_u8(f) % 65u);
        memset(buf, 0, len);
        fz_bytes(f, buf, len);
        fz_out(b, e->req, (uint16_t)(e->set_rambuf | off << 8), buf, len);
        return 1;
    }
    case 4: {
        uint8_t off = fz_u8(f), len = (uint8_t)(fz_u8(f) % 65u);
        fz_in(b, e->req, (uint16_t)(e->get_rambuf | off << 8), NULL, len);
        return 1;
    }
    case 5: {
        uint64_t t = fz_u8(f);
        cwsim_advance_ns(sim, t * t * FZ_MS);
        return 1;
    }
    default:
        return 0;
    }
}

/* The XPROG engine's SET_PARAM TIMEOUT payload (§B.1: 0x08, then the shared counter's default
 * in ticks of 0.4 ms, little-endian), with a fuzzed count of at most 2.6 s. A longer one only
 * lets a completion wait poll longer, as the firmware does (a value poll of a byte that never
 * changes polls until the counter runs out; with the maximum, 20 days, that is hours of real
 * time). tests/avr/avr_engine.c's test_dead_polls covers the maximum where nothing answers. */
static inline void fz_timeout_param(fz *f, uint8_t p[5])
{
    uint32_t ticks = fz_u16(f) % 6554u;
    p[0] = 0x08;
    for (int i = 0; i < 4; i++)
        p[1 + i] = (uint8_t)(ticks >> (8 * i));
}

#endif

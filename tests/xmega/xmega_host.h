/* SPDX-License-Identifier: MIT */
/* A small XPROG host for the XMEGA tests: the CW Python's requests on a simulated board
 * (target-protocols.md §B.1 framing, §B.3 host flow). Include after check.h. */
#ifndef CWLUA_TESTS_XMEGA_XMEGA_HOST_H
#define CWLUA_TESTS_XMEGA_XMEGA_HOST_H

#include "cwsim.h"
#include "cwsim_xmega.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS        1000000ull
#define XPROG     0x20 /* §1 bRequest */
#define OUT       0x41 /* §1 vendor, interface, host to device */
#define IN        0xC1
#define FLASH     0x0800000u /* §B.4 PDI addresses */
#define EEPROM    0x08C0000u
#define FUSES     0x08F0020u
#define SIGNATURE 0x01000090u

static inline int xp_out(cwsim_board *b, uint16_t value, const void *data, uint16_t len)
{
    uint8_t buf[256];
    if (len > 0)
        memcpy(buf, data, len);
    return cwsim_board_control(b, OUT, XPROG, value, 0, buf, len, 1000);
}

static inline int xp_in(cwsim_board *b, uint16_t value, uint8_t *data, uint16_t len)
{
    return cwsim_board_control(b, IN, XPROG, value, 0, data, len, 1000);
}

/* GET_STATUS: returns status byte 1 | byte 2 << 8, or -1 - transfer error */
static inline int xp_status(cwsim_board *b)
{
    uint8_t s[3] = {0};
    int r = xp_in(b, 0x0020, s, 3);
    if (r != 3 || s[0] != 0x20)
        return -1000 + r;
    return s[1] | s[2] << 8;
}

static inline int xp_cmd(cwsim_board *b, uint8_t sub, const void *payload, uint16_t len)
{
    int r = xp_out(b, sub, payload, len);
    if (r != len)
        return -2000 + r;
    return xp_status(b);
}

static inline void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline int xp_timeout_ms(cwsim_board *b, unsigned ms)
{
    uint8_t p[5] = {0x08};
    put32(p + 1, ms * 5 / 2); /* ticks of 1/2500 s (§B.1) */
    return xp_cmd(b, 0x07, p, 5);
}

static inline int xp_read(cwsim_board *b, uint32_t addr, uint8_t *out, uint16_t len)
{
    uint8_t p[7] = {1};
    put32(p + 1, addr);
    p[5] = (uint8_t)len;
    p[6] = (uint8_t)(len >> 8);
    int s = xp_cmd(b, 0x05, p, 7);
    for (uint16_t off = 0; off < len && off < 256; off += 64) {
        uint16_t n = (uint16_t)(len - off < 64 ? len - off : 64);
        if (xp_in(b, (uint16_t)(0x21 | off << 8), out + off, n) != n)
            return -3000;
    }
    return s;
}

static inline int xp_write(cwsim_board *b, uint8_t type, uint8_t mode, uint32_t addr,
                           const uint8_t *data, uint16_t len)
{
    for (uint16_t off = 0; off < len; off += 64) {
        uint16_t n = (uint16_t)(len - off < 64 ? len - off : 64);
        if (xp_out(b, (uint16_t)(0x22 | off << 8), data + off, n) != n)
            return -3000;
    }
    uint8_t p[8] = {type, mode};
    put32(p + 2, addr);
    p[6] = (uint8_t)len;
    p[7] = (uint8_t)(len >> 8);
    return xp_cmd(b, 0x04, p, 8);
}

static inline int xp_erase(cwsim_board *b, uint8_t type, uint32_t addr)
{
    uint8_t p[5] = {type};
    put32(p + 1, addr);
    return xp_cmd(b, 0x03, p, 5);
}

/* A world with one board of kind and (when part is not NULL) that chip; faults NULL-ended. */
static inline cwsim_board *xp_world(cwsim **sim, cwsim_kind kind, const char *part,
                                    const char *const *faults)
{
    char err[256];
    if (cwsim_new(sim, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    for (; faults != NULL && *faults != NULL; faults++)
        if (cwsim_fault_parse(*sim, *faults, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            exit(2);
        }
    cwsim_board *b = cwsim_board_add(*sim, kind, NULL, err, sizeof err);
    if (b == NULL || (part != NULL && cwsim_attach_part(b, part, NULL, err, sizeof err) != 0)) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return b;
}

#endif
